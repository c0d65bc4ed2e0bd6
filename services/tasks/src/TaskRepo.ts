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
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf,
  /** A deleted task stays, without appearing anywhere, until its `task.deleted` event is out; then it is removed. */
  deleted: Schema.Boolean,
  ...Outbox.outboxFields
})
export type TaskDoc = typeof TaskDoc.Type

/** Its fields were validated on the way in (decoded from the store, or from a request): the Task constructor does not check them again. */
export const toTask = (doc: Omit<TaskDoc, "outbox" | "outboxPending">): Task =>
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
        { keys: { projectId: 1 } },
        { keys: { outboxPending: 1 } }
      ]
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
      /** Stores a new task with the event of its creation. */
      create: (task: Omit<TaskDoc, "outbox" | "outboxPending">, event: DomainEventEncoded) =>
        Effect.gen(function*() {
          const doc: TaskDoc = { ...task, outbox: [event], outboxPending: true }
          yield* tasks.insertOne(doc).pipe(Effect.catchTag("DuplicateKey", (error) => Effect.die(error)))
          return doc
        }),
      /** Changes a task still at `expectedVersion` and records `events` with the change, in one write (`VersionMoved` otherwise). */
      write: documents.write,
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
