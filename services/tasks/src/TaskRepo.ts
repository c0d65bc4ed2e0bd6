import { decodeCursor, encodeCursor } from "@herald/domain/Common"
import { ValidationFailed } from "@herald/domain/Errors"
import { ProjectId, TaskId, UserId } from "@herald/domain/Ids"
import { Task, TaskPriority, type TaskListQuery, TaskStatus } from "@herald/domain/Task"
import type { OutboxSource } from "@herald/infra/Outbox"
import { OutboxEvents, settleBranches } from "@herald/infra/Outbox"
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
  version: Schema.Int,
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf,
  /** A deleted task stays, without appearing anywhere, until its `task.deleted` event is out; then it is removed. */
  deleted: Schema.Boolean,
  outbox: OutboxEvents,
  outboxPending: Schema.Boolean
})
export type TaskDoc = typeof TaskDoc.Type

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
        { keys: { projectId: 1 } },
        { keys: { outboxPending: 1 } }
      ]
    })

    const outbox: OutboxSource = {
      name: "tasks",
      pending: (limit) =>
        Effect.map(tasks.find({ outboxPending: true }, { limit }), (docs) =>
          docs.map((doc) => ({ id: doc._id, version: doc.version, deleted: doc.deleted, events: doc.outbox }))),
      settle: (docs) =>
        Effect.gen(function*() {
          const live = settleBranches(docs.filter((doc) => !doc.deleted), isTaskId)
          const gone = settleBranches(docs.filter((doc) => doc.deleted), isTaskId)
          if (live.length > 0) yield* tasks.updateMany({ $or: live }, { $set: { outbox: [], outboxPending: false } })
          if (gone.length > 0) yield* tasks.deleteMany({ $or: gone.map((branch) => ({ ...branch, deleted: true })) })
        })
    }

    return {
      tasks,
      outbox,
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
