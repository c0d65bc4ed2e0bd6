import type { DomainEventEncoded } from "@herald/domain/Events"
import { FamilyId, UserId } from "@herald/domain/Ids"
import * as Outbox from "@herald/infra/Outbox"
import { DocumentStore } from "@herald/infra/Store"
import { Effect, Option, Schema } from "effect"

/**
 * A revoked token family: its one revocation (the `_id` is the claim) and, for a reuse, the owner's
 * `security.session_revoked` in the same insert; outbox fields default for older documents (see the README).
 */
export const RevokedDoc = Schema.Struct({
  _id: FamilyId,
  userId: UserId,
  reason: Schema.Literal("logout", "reuse"),
  revokedAt: Schema.DateFromSelf,
  expiresAt: Schema.DateFromSelf,
  version: Schema.optionalWith(Schema.Int, { default: () => 1 }),
  outbox: Schema.optionalWith(Outbox.OutboxEvents, { default: () => [] }),
  outboxPending: Schema.optionalWith(Schema.Boolean, { default: () => false })
})
export type RevokedDoc = typeof RevokedDoc.Type

const isFamilyId = Schema.is(FamilyId)

/** The revoked token families of the users service, with their outbox for the users relay. */
export class RevokedFamilies extends Effect.Service<RevokedFamilies>()("Herald/RevokedFamilies", {
  scoped: Effect.gen(function*() {
    const store = yield* DocumentStore
    const revoked = yield* store.collection({
      name: "refresh_families_revoked",
      schema: RevokedDoc,
      indexes: [{ keys: { expiresAt: 1 }, expireAfterSeconds: 0 }, { keys: { outboxPending: 1 } }]
    })
    // Written once and never changed: the outbox's versioned write is not used, only its relay source.
    const documents = Outbox.documents(revoked, { isId: isFamilyId })
    return {
      outbox: documents.source("refresh_families_revoked"),
      pendingOf: documents.pendingOf,
      /** Whether `familyId` is revoked. */
      isRevoked: (familyId: FamilyId) => Effect.map(revoked.findOne({ _id: familyId }), Option.isSome),
      /**
       * Claims the revocation of a family, with the events it causes; `false` when it was revoked already (its
       * events were recorded by the first claim, or it had none).
       */
      claim: (revocation: Omit<RevokedDoc, "version" | "outbox" | "outboxPending">, events: ReadonlyArray<DomainEventEncoded>) =>
        Effect.suspend(() => {
          const doc: RevokedDoc = { ...revocation, version: 1, outbox: events, outboxPending: events.length > 0 }
          return revoked.insertOne(doc).pipe(
            Effect.as({ claimed: true as const, doc }),
            Effect.catchTag("DuplicateKey", () => Effect.succeed({ claimed: false as const, doc }))
          )
        })
    }
  })
}) {}
