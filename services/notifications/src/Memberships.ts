import type { ProjectEvent } from "@herald/domain/Events"
import { ProjectId, UserId } from "@herald/domain/Ids"
import { DocumentStore } from "@herald/infra/Store"
import { Effect, Option, Schema } from "effect"

/**
 * Who is in each project, as far as the notifications service has heard: kept from project events (each carries all
 * members after its change) at the newest version seen, so that a duplicate or an older event arriving late changes
 * nothing. One writer per project: the consumer's mailboxes are keyed by project.
 */
export const MembershipDoc = Schema.Struct({
  _id: ProjectId,
  version: Schema.Int,
  memberIds: Schema.Array(UserId),
  deleted: Schema.Boolean
})
export type MembershipDoc = typeof MembershipDoc.Type

/** The membership a project event leaves behind. */
export const membershipAfter = (event: ProjectEvent): MembershipDoc => ({
  _id: event.data.projectId,
  version: event.aggregateVersion,
  memberIds: event.type === "project.deleted" ? [] : event.data.members.map((member) => member.userId),
  deleted: event.type === "project.deleted"
})

export class Memberships extends Effect.Service<Memberships>()("Herald/Memberships", {
  scoped: Effect.gen(function*() {
    const store = yield* DocumentStore
    const memberships = yield* store.collection({ name: "project_memberships", schema: MembershipDoc, indexes: [] })
    return {
      get: (projectId: ProjectId) => memberships.findOne({ _id: projectId }),
      /** Records what a project event says, unless a newer version is known already; the membership known after it. */
      apply: (event: ProjectEvent) =>
        Effect.gen(function*() {
          const known = yield* memberships.findOne({ _id: event.data.projectId })
          if (Option.isSome(known) && known.value.version >= event.aggregateVersion) return known
          const next = membershipAfter(event)
          yield* Option.isNone(known)
            ? memberships.insertOne(next).pipe(
              // Only the mailbox of this project writes here: an existing document means a crash after an insert.
              Effect.catchTag("DuplicateKey", () => memberships.updateOne({ _id: next._id }, { $set: next }))
            )
            : memberships.updateOne({ _id: next._id, version: known.value.version }, { $set: next })
          return Option.some(next)
        }).pipe(Effect.catchTag("DuplicateKey", (error) => Effect.die(error)))
    }
  })
}) {}
