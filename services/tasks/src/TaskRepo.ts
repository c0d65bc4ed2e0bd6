import { decodeCursor, encodeCursor } from "@herald/domain/Common"
import { ValidationFailed } from "@herald/domain/Errors"
import { EventId, ProjectId, TaskId, UserId } from "@herald/domain/Ids"
import { Task, TaskPriority, type TaskListQuery, TaskStatus } from "@herald/domain/Task"
import type { OutboxSource } from "@herald/infra/Outbox"
import { OutboxEvents, settleBranches } from "@herald/infra/Outbox"
import { DocumentStore, type Filter } from "@herald/infra/Store"
import { Clock, Duration, Effect, Option, Schema } from "effect"

export const TaskDoc = Schema.Struct({
  _id: TaskId,
  ownerId: UserId,
  projectId: Schema.NullOr(ProjectId),
  title: Schema.String,
  description: Schema.String,
  priority: TaskPriority,
  status: TaskStatus,
  dueDate: Schema.NullOr(Schema.DateFromSelf),
  version: Schema.Int,
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf,
  /** A deleted task stays, without appearing anywhere, until its `task.deleted` event is out; then it is removed. */
  deleted: Schema.Boolean,
  /**
   * The writes of this task whose outbox entries may still be waiting (their entries' ids): what makes an entry
   * count as committed. Trimmed by the next write to those still waiting. (Absent on documents of earlier builds.)
   */
  pendingWrites: Schema.optionalWith(Schema.Array(EventId), { default: () => [] }),
  /**
   * Earlier builds kept a task's waiting events here. Such events move to the outbox collection with the task's next
   * write, or, for a task not written again, when a relay starts (`TaskRepo.outbox`).
   */
  outbox: Schema.optional(OutboxEvents),
  outboxPending: Schema.optional(Schema.Boolean)
})
export type TaskDoc = typeof TaskDoc.Type

/** Whether an earlier build left events waiting in the task document itself (a write clears them: `legacyCleared`). */
const hasLegacyEvents = (task: TaskDoc): boolean => task.outboxPending === true

/** What a write of `task` sets so that the events of an earlier build, now carried by its entry, are not sent again. */
export const legacyCleared = (task: TaskDoc) => (hasLegacyEvents(task) ? { outbox: [], outboxPending: false } : {})

const legacyEvents = (task: TaskDoc) => (hasLegacyEvents(task) ? task.outbox ?? [] : [])

/**
 * The outbox of tasks, a collection of its own: one entry per write, keyed by the id of the event the write caused,
 * holding every event of the task still waiting (the previous entry's, if it is still here, then its own).
 *
 * Why not the events in the task document, as projects and exports keep them: on FerretDB every update of an
 * existing document scans its collection, and clearing a task's outbox after publishing was one more update per
 * task (half of FerretDB's CPU in the pipeline). Here a writer inserts the entry, then writes the task naming the
 * entry in `pendingWrites`; the relay deletes published entries, one delete per batch on a small collection, and
 * never touches the task. An entry is committed when its task names it: a writer that died between the two writes
 * leaves an entry no task names, which is dropped after `abandonAfter` (see `TaskRepo.outbox`).
 */
export const TaskOutboxEntry = Schema.Struct({
  _id: EventId,
  taskId: TaskId,
  version: Schema.Int,
  deleted: Schema.Boolean,
  events: OutboxEvents,
  createdAt: Schema.DateFromSelf
})
export type TaskOutboxEntry = typeof TaskOutboxEntry.Type

/**
 * Entries younger than this are left to the relay that was handed them by their writer (or to the writer, still
 * writing the task): a scan looks only at older ones, so a busy pipeline's scans never read the tasks collection.
 */
export const handOverWindow = Duration.seconds(5)

/**
 * An entry no task names this long after it was made is a write that never happened (its writer died, or lost the
 * compare-and-set and could not say so): it is dropped. A writer slower than half of this re-inserts its entry
 * after writing the task, so a committed write cannot lose its entry to this rule.
 */
export const abandonAfter = Duration.seconds(60)

/** Its fields were validated on the way in (decoded from the store, or from a request): the Task constructor does not check them again. */
export const toTask = (doc: TaskDoc): Task =>
  new Task({
    id: doc._id,
    projectId: doc.projectId,
    title: doc.title,
    description: doc.description,
    priority: doc.priority,
    status: doc.status,
    dueDate: doc.dueDate,
    version: doc.version,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt
  }, true)

const isTaskId = Schema.is(TaskId)
const isProjectId = Schema.is(ProjectId)

export class TaskRepo extends Effect.Service<TaskRepo>()("Herald/TaskRepo", {
  scoped: Effect.gen(function*() {
    const store = yield* DocumentStore
    const tasks = yield* store.collection({
      name: "tasks",
      schema: TaskDoc,
      indexes: [
        { keys: { ownerId: 1, _id: -1 } },
        { keys: { ownerId: 1, projectId: 1, _id: -1 } },
        { keys: { projectId: 1 } }
      ]
    })
    const entries = yield* store.collection({
      name: "task_outbox",
      schema: TaskOutboxEntry,
      indexes: [{ keys: { taskId: 1 } }, { keys: { createdAt: 1 } }]
    })

    /** Inserts `entry` unless it is there already. */
    const ensureEntry = (entry: TaskOutboxEntry) =>
      entries.insertOne(entry).pipe(Effect.catchTag("DuplicateKey", () => Effect.void))

    /** Drops an entry no task named; if its task names it after all (its writer was just slow), puts it back. */
    const abandon = (entry: TaskOutboxEntry) =>
      Effect.gen(function*() {
        yield* entries.deleteOne({ _id: entry._id })
        const task = yield* tasks.findOne({ _id: entry.taskId })
        if (Option.isSome(task) && task.value.pendingWrites.includes(entry._id)) yield* ensureEntry(entry)
      })

    /**
     * Moves the events an earlier build left in task documents to entries, once per relay start (it reads the whole
     * tasks collection): an entry holding them, then the task naming it. A task written meanwhile is left to its
     * writer, which carries them over itself.
     */
    let legacyMoved = false
    const moveLegacy = (limit: number) =>
      Effect.gen(function*() {
        const docs = yield* tasks.find({ outboxPending: true }, { limit })
        for (const task of docs) {
          const events = legacyEvents(task)
          const last = events[events.length - 1]
          const entry = last === undefined ? undefined : Schema.decodeOption(EventId)(last.id).pipe(Option.getOrUndefined)
          if (entry !== undefined) {
            // Dated at the epoch: past every window, so the next scan relays it.
            yield* ensureEntry({ _id: entry, taskId: task._id, version: task.version, deleted: task.deleted, events, createdAt: new Date(0) })
          }
          yield* tasks.updateOne(
            { _id: task._id, version: task.version },
            { $set: { pendingWrites: [...task.pendingWrites, ...(entry === undefined ? [] : [entry])], ...legacyCleared(task) } }
          )
        }
        legacyMoved = docs.length < limit
      })

    const outbox: OutboxSource = {
      name: "tasks",
      // Entries past the hand-over window whose task names them: the newest of each task (it holds the others'
      // events too). Looking at a task costs a read of the tasks collection, so only older entries are looked at.
      pending: (limit, held) =>
        Effect.gen(function*() {
          if (!legacyMoved) yield* moveLegacy(limit)
          const now = yield* Clock.currentTimeMillis
          const old = (yield* entries.find(
            { createdAt: { $lt: new Date(now - Duration.toMillis(handOverWindow)) } },
            { sort: { createdAt: 1 }, limit }
          )).filter((entry) => !held(entry.taskId, entry.version))
          if (old.length === 0) return []
          const named = new Map((yield* tasks.find({ _id: { $in: [...new Set(old.map((entry) => entry.taskId))] } })).map((task) => [task._id, task]))
          const newest = new Map<string, TaskOutboxEntry>()
          for (const entry of old) {
            if (named.get(entry.taskId)?.pendingWrites.includes(entry._id) === true) {
              if ((newest.get(entry.taskId)?.version ?? 0) < entry.version) newest.set(entry.taskId, entry)
            } else if (now - entry.createdAt.getTime() >= Duration.toMillis(abandonAfter)) {
              yield* abandon(entry)
            }
          }
          return [...newest.values()].map((entry) => ({ id: entry.taskId, version: entry.version, deleted: entry.deleted, events: entry.events }))
        }),
      // The entries up to the published version of each task go; a deleted task's document goes first (so that a
      // crash in between leaves entries no task names, dropped later, rather than a document nothing will remove).
      settle: (docs) =>
        Effect.gen(function*() {
          const gone = settleBranches(docs.filter((doc) => doc.deleted), isTaskId)
          if (gone.length > 0) yield* tasks.deleteMany({ $or: gone.map((branch) => ({ ...branch, deleted: true })) })
          const published = docs.flatMap((doc) => (isTaskId(doc.id) ? [{ taskId: doc.id, version: { $lte: doc.version } }] : []))
          if (published.length > 0) yield* entries.deleteMany({ $or: published })
        })
    }

    return {
      tasks,
      entries,
      outbox,
      /**
       * What a new write of `task` carries over: the ids of its writes whose entries are still waiting, and their
       * events (those of the newest such entry, which holds the others').
       */
      waiting: (task: TaskDoc) =>
        task.pendingWrites.length === 0
          ? Effect.succeed({ ids: [] as ReadonlyArray<EventId>, events: legacyEvents(task) })
          : Effect.map(entries.find({ _id: { $in: task.pendingWrites } }), (found) => {
            const newest = found.reduce<TaskOutboxEntry | undefined>((a, b) => (a === undefined || b.version > a.version ? b : a), undefined)
            return { ids: found.map((entry) => entry._id), events: [...legacyEvents(task), ...(newest?.events ?? [])] }
          }),
      /** Before writing a task: its outbox entry. */
      recordEntry: (entry: TaskOutboxEntry) => entries.insertOne(entry),
      /** After a write that certainly did not happen (its compare-and-set matched nothing). */
      forgetEntry: (id: EventId) => Effect.asVoid(entries.deleteOne({ _id: id })),
      /** After writing the task: a writer slower than half of `abandonAfter` makes sure its entry is still there. */
      confirmEntry: (entry: TaskOutboxEntry, startedAt: number) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          now - startedAt > Duration.toMillis(abandonAfter) / 2 ? ensureEntry(entry) : Effect.void),
      /** A live task of the caller: `None` for a malformed id, another user's task or a deleted one. */
      findOwned: (userId: UserId, taskId: string) =>
        isTaskId(taskId)
          ? Effect.map(tasks.findOne({ _id: taskId }), Option.filter((doc) => doc.ownerId === userId && !doc.deleted))
          : Effect.succeed(Option.none<TaskDoc>()),
      /** Newest first, `limit` at a time; the cursor is the last id seen, so inserts meanwhile cause no repeats. */
      list: (userId: UserId, query: TaskListQuery) =>
        Effect.gen(function*() {
          const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor)
          if (after !== undefined && !isTaskId(after)) return yield* Effect.fail(new ValidationFailed({ message: "invalid cursor" }))
          if (query.projectId !== undefined && !isProjectId(query.projectId)) return { items: [], nextCursor: null }
          const filter: Filter<TaskDoc> = {
            ownerId: userId,
            deleted: false,
            ...(query.projectId !== undefined && isProjectId(query.projectId) ? { projectId: query.projectId } : {}),
            ...(query.status !== undefined ? { status: query.status } : {}),
            ...(after !== undefined && isTaskId(after) ? { _id: { $lt: after } } : {})
          }
          const docs = yield* tasks.find(filter, { sort: { _id: -1 }, limit: query.limit + 1 })
          const page = docs.slice(0, query.limit)
          const last = page[page.length - 1]
          return {
            items: page.map(toTask),
            nextCursor: docs.length > query.limit && last !== undefined ? encodeCursor(last._id) : null
          }
        }),
      /** Oldest first after `after`: an export reads any number of tasks a page at a time. */
      exportPage: (userId: UserId, projectId: ProjectId | null, after: string | null, limit: number) => {
        const filter: Filter<TaskDoc> = {
          ownerId: userId,
          deleted: false,
          ...(projectId !== null ? { projectId } : {}),
          ...(after !== null && isTaskId(after) ? { _id: { $gt: after } } : {})
        }
        return Effect.map(tasks.find(filter, { sort: { _id: 1 }, limit }), (docs) => docs.map(toTask))
      },
      liveInProject: (ownerId: UserId, projectId: ProjectId) => tasks.find({ ownerId, projectId, deleted: false })
    }
  })
}) {}
