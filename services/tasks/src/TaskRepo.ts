import { decodeCursor, encodeCursor } from "@herald/domain/Common"
import { ValidationFailed } from "@herald/domain/Errors"
import type { DomainEventEncoded } from "@herald/domain/Events"
import { ProjectId, TaskId, UserId } from "@herald/domain/Ids"
import { Task, TaskPriority, type TaskListQuery, TaskStatus } from "@herald/domain/Task"
import * as Outbox from "@herald/infra/Outbox"
import { DocumentStore, type Filter } from "@herald/infra/Store"
import { Effect, Option, Schema } from "effect"

export const TaskDoc = Schema.Struct({
  _id: TaskId,
  ownerId: UserId,
  projectId: Schema.NullOr(ProjectId),
  title: Schema.String,
  description: Schema.String,
  priority: TaskPriority,
  status: TaskStatus,
  dueDate: Schema.NullOr(Schema.DateFromSelf),
  assigneeId: Schema.optionalWith(Schema.NullOr(UserId), { default: () => null }),
  /** Who is told of the task's changes (the API shows each caller `watching`). */
  watchers: Schema.optionalWith(Schema.Array(UserId), { default: () => [] }),
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf,
  /** A deleted task stays, without appearing anywhere, until its `task.deleted` event is out; then it is removed. */
  deleted: Schema.Boolean,
  ...Outbox.outboxFields
})
export type TaskDoc = typeof TaskDoc.Type

/**
 * The task as `viewer` sees it (`watching` is theirs). Its fields were validated on the way in (decoded from the
 * store, or from a request): the Task constructor does not check them again.
 */
export const toTask = (doc: Omit<TaskDoc, "outbox" | "outboxPending">, viewer: UserId): Task =>
  new Task({
    id: doc._id,
    projectId: doc.projectId,
    title: doc.title,
    description: doc.description,
    priority: doc.priority,
    status: doc.status,
    dueDate: doc.dueDate,
    assigneeId: doc.assigneeId,
    watching: doc.watchers.includes(viewer),
    version: doc.version,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt
  }, true)

/** A keyed create: the id its task got, claimed once per user and key. */
const TaskRequestDoc = Schema.Struct({ _id: Schema.String, taskId: TaskId, createdAt: Schema.DateFromSelf })

const isTaskId = Schema.is(TaskId)
const isProjectId = Schema.is(ProjectId)
const isUserId = Schema.is(UserId)

export class TaskRepo extends Effect.Service<TaskRepo>()("Herald/TaskRepo", {
  scoped: Effect.gen(function*() {
    const store = yield* DocumentStore
    const tasks = yield* store.collection({
      name: "tasks",
      schema: TaskDoc,
      indexes: [
        { keys: { ownerId: 1, _id: -1 } },
        { keys: { ownerId: 1, projectId: 1, _id: -1 } },
        { keys: { projectId: 1, _id: -1 } },
        { keys: { outboxPending: 1 } }
      ]
    })
    // Keyed creates (`Idempotency-Key`): the task id a request was given, claimed by a unique insert, kept a day.
    const requests = yield* store.collection({
      name: "task_requests",
      schema: TaskRequestDoc,
      indexes: [{ keys: { createdAt: 1 }, expireAfterSeconds: 24 * 60 * 60 }]
    })
    const documents = Outbox.documents(tasks, {
      isId: isTaskId,
      deleted: (doc) => doc.deleted,
      remove: (settled) => tasks.deleteMany({ outboxPending: true, deleted: true, $or: settled })
    })

    return {
      outbox: documents.source("tasks"),
      /** What a writer hands the relay: the task's pending events as written. */
      pendingOf: documents.pendingOf,
      /**
       * Stores a new task with the event of its creation. `Existing` when a task of that id is already stored: a keyed
       * create run again (its request claimed the id before).
       */
      create: (task: Omit<TaskDoc, "outbox" | "outboxPending">, event: DomainEventEncoded) =>
        documents.insert(task, [event]).pipe(
          Effect.map((doc) => ({ _tag: "Created" as const, doc })),
          Effect.catchTag("DuplicateKey", () =>
            Effect.flatMap(tasks.findOne({ _id: task._id }), (existing) =>
              Option.match(existing, {
                onNone: () => Effect.dieMessage(`task ${task._id}: a duplicate insert, yet no such task`),
                onSome: (found) => Effect.succeed({ _tag: "Existing" as const, doc: found })
              })))
        ),
      /** The task id a keyed request was given: `candidate` if the request is new, the first one's otherwise. */
      claimRequest: (requestId: string, candidate: TaskId, at: Date) =>
        requests.insertOne({ _id: requestId, taskId: candidate, createdAt: at }).pipe(
          Effect.as(candidate),
          Effect.catchTag("DuplicateKey", () =>
            Effect.flatMap(requests.findOne({ _id: requestId }), (claimed) =>
              Option.match(claimed, {
                // Expired in between: the request is new again.
                onNone: () => Effect.succeed(candidate),
                onSome: (found) => Effect.succeed(found.taskId)
              })))
        ),
      /** Changes a task still at `expectedVersion` and records `events` with the change, in one write (`VersionMoved` otherwise). */
      write: documents.write,
      /** A live task: `None` for a malformed id or a deleted task (who may see it is the caller's business). */
      find: (taskId: string) =>
        isTaskId(taskId)
          ? Effect.map(tasks.findOne({ _id: taskId }), Option.filter((doc) => !doc.deleted))
          : Effect.succeed(Option.none<TaskDoc>()),
      /**
       * What `userId` can see, newest first, `limit` at a time: their tasks without a project and the tasks of
       * `projectIds` (the projects they are a member of). The cursor is the last id seen, so inserts cause no repeats.
       */
      list: (userId: UserId, projectIds: ReadonlyArray<ProjectId>, query: TaskListQuery) =>
        Effect.gen(function*() {
          const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor)
          if (after !== undefined && !isTaskId(after)) return yield* Effect.fail(new ValidationFailed({ message: "invalid cursor" }))
          if (query.projectId !== undefined && !(isProjectId(query.projectId) && projectIds.includes(query.projectId))) {
            return { items: [], nextCursor: null }
          }
          const assignee = query.assigneeId === "me" ? userId : query.assigneeId
          if (assignee !== undefined && !isUserId(assignee)) return { items: [], nextCursor: null }
          const visible: Filter<TaskDoc> = query.projectId !== undefined && isProjectId(query.projectId)
            ? { projectId: query.projectId }
            : { $or: [{ ownerId: userId, projectId: null }, { projectId: { $in: projectIds } }] }
          const filter: Filter<TaskDoc> = {
            ...visible,
            deleted: false,
            ...(query.status !== undefined ? { status: query.status } : {}),
            ...(assignee !== undefined && isUserId(assignee) ? { assigneeId: assignee } : {}),
            ...(query.watching === true ? { watchers: userId } : {}),
            ...(after !== undefined && isTaskId(after) ? { _id: { $lt: after } } : {})
          }
          const docs = yield* tasks.find(filter, { sort: { _id: -1 }, limit: query.limit + 1 })
          const page = docs.slice(0, query.limit)
          const last = page[page.length - 1]
          return {
            items: page.map((doc) => toTask(doc, userId)),
            nextCursor: docs.length > query.limit && last !== undefined ? encodeCursor(last._id) : null
          }
        }),
      /**
       * Oldest first after `after`: an export reads any number of tasks a page at a time. `scope` is one project
       * (the caller is a member), or everything the caller can see.
       */
      exportPage: (
        userId: UserId,
        scope: { readonly projectId: ProjectId } | { readonly projectIds: ReadonlyArray<ProjectId> },
        after: string | null,
        limit: number
      ) => {
        const filter: Filter<TaskDoc> = {
          ...("projectId" in scope
            ? { projectId: scope.projectId }
            : { $or: [{ ownerId: userId, projectId: null }, { projectId: { $in: scope.projectIds } }] }),
          deleted: false,
          ...(after !== null && isTaskId(after) ? { _id: { $gt: after } } : {})
        }
        return Effect.map(tasks.find(filter, { sort: { _id: 1 }, limit }), (docs) => docs.map((doc) => toTask(doc, userId)))
      },
      liveInProject: (projectId: ProjectId) => tasks.find({ projectId, deleted: false })
    }
  })
}) {}
