import { decodeCursor, encodeCursor } from "@herald/domain/Common"
import { ProjectNotFound, ValidationFailed } from "@herald/domain/Errors"
import { ProjectId, UserId } from "@herald/domain/Ids"
import { Project, type TaskCounts, zeroCounts } from "@herald/domain/Project"
import type { OutboxSource } from "@herald/infra/Outbox"
import { OutboxEvents, settleBranches } from "@herald/infra/Outbox"
import { DocumentStore } from "@herald/infra/Store"
import { Effect, Option, Schema } from "effect"

export const ProjectDoc = Schema.Struct({
  _id: ProjectId,
  ownerId: UserId,
  name: Schema.String,
  description: Schema.String,
  version: Schema.Int,
  deleted: Schema.Boolean,
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf,
  outbox: OutboxEvents,
  outboxPending: Schema.Boolean
})
export type ProjectDoc = typeof ProjectDoc.Type

const Count = Schema.optionalWith(Schema.Int, { default: () => 0 })

/**
 * A project's task counters, in a document of their own: the counters projector is its only writer, so counter
 * updates never race a rename of the project. `pending` marks an event applied here but not yet recorded as
 * applied to its task (see CountersProjector).
 */
export const CountersDoc = Schema.Struct({
  _id: ProjectId,
  counts: Schema.optionalWith(Schema.Struct({ todo: Count, in_progress: Count, done: Count }), { default: () => zeroCounts }),
  pending: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Int }), { default: () => ({}) })
})
export type CountersDoc = typeof CountersDoc.Type

const isProjectId = Schema.is(ProjectId)

/** Its fields were validated on the way in (decoded from the store, or from a request): the Project constructor does not check them again. */
export const toProject = (doc: ProjectDoc, counts: TaskCounts): Project =>
  new Project({
    id: doc._id,
    name: doc.name,
    description: doc.description,
    taskCounts: counts,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt
  }, true)

export class ProjectRepo extends Effect.Service<ProjectRepo>()("Herald/ProjectRepo", {
  scoped: Effect.gen(function*() {
    const store = yield* DocumentStore
    const projects = yield* store.collection({
      name: "projects",
      schema: ProjectDoc,
      indexes: [{ keys: { ownerId: 1, _id: -1 } }, { keys: { outboxPending: 1 } }]
    })
    const counters = yield* store.collection({ name: "project_counters", schema: CountersDoc, indexes: [] })

    const notFound = () => new ProjectNotFound({ message: "project not found" })

    /** The caller's live project, or 404 (also for another user's project: its existence is not revealed). */
    const owned = (userId: UserId, projectId: string) =>
      (isProjectId(projectId) ? projects.findOne({ _id: projectId }) : Effect.succeed(Option.none<ProjectDoc>())).pipe(
        Effect.flatMap(Option.match({
          onNone: () => Effect.fail(notFound()),
          onSome: (doc) => (doc.ownerId === userId && !doc.deleted ? Effect.succeed(doc) : Effect.fail(notFound()))
        }))
      )

    const countsOf = (projectId: ProjectId) =>
      Effect.map(counters.findOne({ _id: projectId }), Option.match({ onNone: () => zeroCounts, onSome: (doc) => doc.counts }))

    const withCounts = (doc: ProjectDoc) => Effect.map(countsOf(doc._id), (counts) => toProject(doc, counts))

    const outbox: OutboxSource = {
      name: "projects",
      pending: (limit) =>
        Effect.map(projects.find({ outboxPending: true }, { limit }), (docs) =>
          docs.map((doc) => ({ id: doc._id, version: doc.version, deleted: doc.deleted, events: doc.outbox }))),
      settle: (docs) => {
        const branches = settleBranches(docs, isProjectId)
        return branches.length === 0 ? Effect.void : projects.updateMany({ $or: branches }, { $set: { outbox: [], outboxPending: false } })
      }
    }

    return {
      projects,
      counters,
      owned,
      withCounts,
      outbox,
      list: (userId: UserId, limit: number, cursor: string | undefined) =>
        Effect.gen(function*() {
          const after = cursor === undefined ? undefined : decodeCursor(cursor)
          if (after !== undefined && !isProjectId(after)) {
            return yield* Effect.fail(new ValidationFailed({ message: "invalid cursor" }))
          }
          const docs = yield* projects.find(
            after === undefined ? { ownerId: userId, deleted: false } : { ownerId: userId, deleted: false, _id: { $lt: after } },
            { sort: { _id: -1 }, limit: limit + 1 }
          )
          const page = docs.slice(0, limit)
          const counted = yield* counters.find({ _id: { $in: page.map((doc) => doc._id) } })
          const byId = new Map(counted.map((doc) => [doc._id, doc.counts]))
          const last = page[page.length - 1]
          return {
            items: page.map((doc) => toProject(doc, byId.get(doc._id) ?? zeroCounts)),
            nextCursor: docs.length > limit && last !== undefined ? encodeCursor(last._id) : null
          }
        })
    }
  })
}) {}
