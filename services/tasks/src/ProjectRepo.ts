import { decodeCursor, encodeCursor } from "@herald/domain/Common"
import { ProjectNotFound, ValidationFailed } from "@herald/domain/Errors"
import { ProjectId, type TaskId, UserId } from "@herald/domain/Ids"
import { Project, type TaskCounts, zeroCounts } from "@herald/domain/Project"
import type { TaskStatus } from "@herald/domain/Task"
import * as Outbox from "@herald/infra/Outbox"
import { DocumentStore } from "@herald/infra/Store"
import { Effect, Option, Schema } from "effect"

export const ProjectDoc = Schema.Struct({
  _id: ProjectId,
  ownerId: UserId,
  name: Schema.String,
  description: Schema.String,
  deleted: Schema.Boolean,
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf,
  ...Outbox.outboxFields
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

    // A deleted project stays (soft-deleted): settling only clears its outbox.
    const documents = Outbox.documents(projects, { isId: isProjectId, deleted: (doc) => doc.deleted })

    return {
      owned,
      withCounts,
      outbox: documents.source("projects"),
      /** What a writer hands the relay: the project's pending events as written. */
      pendingOf: documents.pendingOf,
      /** Stores a new project (no event: nobody else can know of it yet). */
      create: (project: Omit<ProjectDoc, "outbox" | "outboxPending">) =>
        Effect.gen(function*() {
          const doc: ProjectDoc = { ...project, outbox: [], outboxPending: false }
          yield* projects.insertOne(doc).pipe(Effect.catchTag("DuplicateKey", (error) => Effect.die(error)))
          return doc
        }),
      /** Changes a project still at `expectedVersion` and records `events` with the change, in one write (`VersionMoved` otherwise). */
      write: documents.write,
      /** A project's counters document, if it has one. */
      counters: (projectId: ProjectId) => counters.findOne({ _id: projectId }),
      /**
       * Adds `increments` to a project's counters and marks the task's event at `version` as applied there, in one
       * write (the counters projector is its only writer).
       */
      addCounts: (projectId: ProjectId, increments: Partial<Record<TaskStatus, number>>, taskId: TaskId, version: number) => {
        const inc: Record<`counts.${string}`, number> = {}
        for (const [status, by] of Object.entries(increments)) if (by !== 0) inc[`counts.${status}`] = by
        const mark = `pending.${taskId}` as const
        return counters.updateOne({ _id: projectId }, { $inc: inc, $set: { [mark]: version } }, { upsert: true })
      },
      /** Once the task's event is recorded as counted: its mark goes. */
      clearCountMark: (projectId: ProjectId, taskId: TaskId) => {
        const mark = `pending.${taskId}` as const
        return Effect.asVoid(counters.updateOne({ _id: projectId }, { $unset: { [mark]: true } }))
      },
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
