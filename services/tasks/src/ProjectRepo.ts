import { decodeCursor, encodeCursor } from "@herald/domain/Common"
import { type DependencyUnavailable, Forbidden, ProjectNotFound, ValidationFailed } from "@herald/domain/Errors"
import { ProjectId, type TaskId, UserId } from "@herald/domain/Ids"
import { ProjectRole, roleRank } from "@herald/domain/Member"
import { Project, type TaskCounts, zeroCounts } from "@herald/domain/Project"
import type { TaskStatus } from "@herald/domain/Task"
import * as Outbox from "@herald/infra/Outbox"
import { DocumentStore } from "@herald/infra/Store"
import { Effect, Option, Schema } from "effect"

/** A member as stored in the project: names and emails live with the account (the users service), never here. */
export const MemberEntry = Schema.Struct({ userId: UserId, role: ProjectRole, addedAt: Schema.DateFromSelf })
export type MemberEntry = typeof MemberEntry.Type

/**
 * A project and its members, in one document: a membership change and its event are one compare-and-set write.
 * `memberIds` mirrors `members` for queries ("the projects of this user"); `ownerId` is the member whose role is owner.
 */
export const ProjectDoc = Schema.Struct({
  _id: ProjectId,
  ownerId: UserId,
  members: Schema.optionalWith(Schema.Array(MemberEntry), { default: () => [] }),
  memberIds: Schema.optionalWith(Schema.Array(UserId), { default: () => [] }),
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

/** The members of a project; a project stored before projects were shared has its owner as its one member. */
export const membersOf = (doc: Pick<ProjectDoc, "members" | "ownerId" | "createdAt">): ReadonlyArray<MemberEntry> =>
  doc.members.length > 0 ? doc.members : [{ userId: doc.ownerId, role: "owner", addedAt: doc.createdAt }]

export const roleOf = (doc: ProjectDoc, userId: UserId): ProjectRole | undefined =>
  membersOf(doc).find((member) => member.userId === userId)?.role

/** A project as its caller sees it. */
export interface Access {
  readonly doc: ProjectDoc
  readonly role: ProjectRole
}

/** Fails with 403 unless the caller's role is at least `needed`. */
export const requireRole = (access: Access, needed: ProjectRole, action: string) =>
  roleRank[access.role] >= roleRank[needed]
    ? Effect.succeed(access)
    : Effect.fail(new Forbidden({ message: `${action} needs the ${needed} role; you are ${access.role === "owner" ? "the owner" : `a${access.role === "editor" ? "n" : ""} ${access.role}`}` }))

/** Its fields were validated on the way in (decoded from the store, or from a request): the Project constructor does not check them again. */
export const toProject = (doc: ProjectDoc, counts: TaskCounts, role: ProjectRole): Project =>
  new Project({
    id: doc._id,
    name: doc.name,
    description: doc.description,
    taskCounts: counts,
    role,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt
  }, true)

export class ProjectRepo extends Effect.Service<ProjectRepo>()("Herald/ProjectRepo", {
  scoped: Effect.gen(function*() {
    const store = yield* DocumentStore
    const projects = yield* store.collection({
      name: "projects",
      schema: ProjectDoc,
      indexes: [{ keys: { ownerId: 1, _id: -1 } }, { keys: { memberIds: 1, _id: -1 } }, { keys: { outboxPending: 1 } }]
    })
    const counters = yield* store.collection({ name: "project_counters", schema: CountersDoc, indexes: [] })

    const notFound = () => new ProjectNotFound({ message: "project not found" })

    /** A live project of which the caller is a member, with their role; 404 for anyone else (its existence is not revealed). */
    const access = (userId: UserId, projectId: string): Effect.Effect<Access, ProjectNotFound | DependencyUnavailable> =>
      (isProjectId(projectId) ? projects.findOne({ _id: projectId }) : Effect.succeed(Option.none<ProjectDoc>())).pipe(
        Effect.flatMap(Option.match({
          onNone: () => Effect.fail(notFound()),
          onSome: (doc) => {
            const role = roleOf(doc, userId)
            return role !== undefined && !doc.deleted ? Effect.succeed({ doc, role }) : Effect.fail(notFound())
          }
        }))
      )

    /** The live projects the user is a member of (also those stored before projects were shared). */
    const ofMember = (userId: UserId) => ({ deleted: false, $or: [{ memberIds: userId }, { ownerId: userId }] })

    const countsOf = (projectId: ProjectId) =>
      Effect.map(counters.findOne({ _id: projectId }), Option.match({ onNone: () => zeroCounts, onSome: (doc) => doc.counts }))

    const withCounts = (doc: ProjectDoc, role: ProjectRole) => Effect.map(countsOf(doc._id), (counts) => toProject(doc, counts, role))

    // A deleted project stays (soft-deleted): settling only clears its outbox.
    const documents = Outbox.documents(projects, { isId: isProjectId, deleted: (doc) => doc.deleted })

    return {
      access,
      withCounts,
      /** Ids of the live projects the user is a member of. */
      idsOf: (userId: UserId) =>
        Effect.map(projects.find(ofMember(userId)), (docs) => docs.filter((doc) => roleOf(doc, userId) !== undefined).map((doc) => doc._id)),
      outbox: documents.source("projects"),
      /** What a writer hands the relay: the project's pending events as written. */
      pendingOf: documents.pendingOf,
      /** Stores a new project (no event: nobody else can know of it yet). */
      create: (project: Omit<ProjectDoc, "outbox" | "outboxPending">) =>
        documents.insert(project, []).pipe(Effect.catchTag("DuplicateKey", (error) => Effect.die(error))),
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
            after === undefined ? ofMember(userId) : { ...ofMember(userId), _id: { $lt: after } },
            { sort: { _id: -1 }, limit: limit + 1 }
          )
          const page = docs.slice(0, limit)
          const counted = yield* counters.find({ _id: { $in: page.map((doc) => doc._id) } })
          const byId = new Map(counted.map((doc) => [doc._id, doc.counts]))
          const last = page[page.length - 1]
          return {
            items: page.map((doc) => toProject(doc, byId.get(doc._id) ?? zeroCounts, roleOf(doc, userId) ?? "viewer")),
            nextCursor: docs.length > limit && last !== undefined ? encodeCursor(last._id) : null
          }
        })
    }
  })
}) {}
