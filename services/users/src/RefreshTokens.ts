import { InvalidRefreshToken, TokenReused } from "@herald/domain/Errors"
import { encodeEvent, envelopeOf } from "@herald/domain/Events"
import { FamilyId, newFamilyId, UserId } from "@herald/domain/Ids"
import type { SessionClient } from "@herald/domain/User"
import { VersionedCache } from "@herald/infra/Cache"
import { JwtConfig } from "@herald/infra/InfraConfig"
import { markRevoked } from "@herald/infra/Revocations"
import { DocumentStore } from "@herald/infra/Store"
import { Clock, Duration, Effect, Option, Schema } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { UsersRelay } from "./Messaging.ts"
import { RevokedFamilies } from "./RevokedFamilies.ts"
import { RefreshConfig } from "./UsersConfig.ts"


const TokenDoc = Schema.Struct({
  _id: Schema.String, // sha256 of the token: the token itself is never stored
  familyId: FamilyId,
  userId: UserId,
  createdAt: Schema.DateFromSelf,
  expiresAt: Schema.DateFromSelf
})
const SpentDoc = Schema.Struct({ _id: Schema.String, familyId: FamilyId, spentAt: Schema.DateFromSelf, expiresAt: Schema.DateFromSelf })

const digest = (token: string) => createHash("sha256").update(token).digest("hex")

/**
 * Rotating refresh tokens, one family per login (RFC 9700 §4.14.2). Spending a token is a unique-index insert, so
 * of two concurrent refreshes with the same token exactly one wins; presenting a spent token revokes its family.
 */
export class RefreshTokens extends Effect.Service<RefreshTokens>()("Herald/RefreshTokens", {
  scoped: Effect.gen(function*() {
    const store = yield* DocumentStore
    const cache = yield* VersionedCache
    const ttl = yield* RefreshConfig
    const accessTtl = (yield* JwtConfig).accessTokenTtl
    const expiry = [{ keys: { expiresAt: 1 as const }, expireAfterSeconds: 0 }]
    const tokens = yield* store.collection({ name: "refresh_tokens", schema: TokenDoc, indexes: [{ keys: { familyId: 1 } }, ...expiry] })
    const spent = yield* store.collection({ name: "refresh_tokens_spent", schema: SpentDoc, indexes: expiry })
    const families = yield* RevokedFamilies
    const relay = yield* UsersRelay

    const issue = (userId: UserId, familyId: FamilyId) =>
      Effect.gen(function*() {
        const token = `rt_${randomBytes(32).toString("base64url")}`
        const now = yield* Clock.currentTimeMillis
        yield* tokens.insertOne({
          _id: digest(token),
          familyId,
          userId,
          createdAt: new Date(now),
          expiresAt: new Date(now + Duration.toMillis(ttl))
        }).pipe(Effect.catchTag("DuplicateKey", (error) => Effect.die(error)))
        return token
      })

    const revoke = (familyId: FamilyId, userId: UserId, reason: "logout" | "reuse", client: SessionClient | null) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const revokedAt = new Date(now)
        // A reuse tells the owner: the event is recorded in the revocation's own insert, so it is claimed once per
        // family and survives a crash right after it (the relay publishes what is pending).
        const events = reason === "reuse"
          ? [encodeEvent({
            ...(yield* envelopeOf(familyId, 1, userId)),
            type: "security.session_revoked",
            data: { familyId, reason, revokedAt, client }
          })]
          : []
        const { claimed, doc } = yield* families.claim(
          { _id: familyId, userId, reason, revokedAt, expiresAt: new Date(now + Duration.toMillis(ttl)) },
          events
        )
        if (claimed && events.length > 0) yield* relay.nudgeDocument(families.outbox.name, families.pendingOf(doc))
        yield* markRevoked(cache, familyId, accessTtl).pipe(
          Effect.catchAll((error) =>
            Effect.logWarning("could not publish a token family's revocation to Redis; its access tokens stay valid until they expire", error)
          )
        )
        yield* Effect.logInfo(`revoked token family ${familyId} (${reason})`)
      })

    const invalid = () => new InvalidRefreshToken({ message: "invalid or expired refresh token" })

    return {
      /** A new family: what a login starts. */
      start: (userId: UserId) =>
        Effect.flatMap(newFamilyId, (familyId) => Effect.map(issue(userId, familyId), (token) => ({ token, familyId }))),
      /** Spends `token` and returns its successor in the same family; `client` presented it. */
      rotate: (token: string, client: SessionClient | null) =>
        Effect.gen(function*() {
          const hash = digest(token)
          const now = yield* Clock.currentTimeMillis
          const found = yield* tokens.findOne({ _id: hash })
          if (Option.isNone(found) || found.value.expiresAt.getTime() <= now) return yield* Effect.fail(invalid())
          const { familyId, userId } = found.value
          if (yield* families.isRevoked(familyId)) return yield* Effect.fail(invalid())
          const claimed = yield* spent.insertOne({ _id: hash, familyId, spentAt: new Date(now), expiresAt: found.value.expiresAt }).pipe(
            Effect.as(true),
            Effect.catchTag("DuplicateKey", () => Effect.succeed(false))
          )
          if (!claimed) {
            yield* revoke(familyId, userId, "reuse", client)
            return yield* Effect.fail(new TokenReused({ message: "refresh token already used; every token of this login is revoked" }))
          }
          return { token: yield* issue(userId, familyId), userId, familyId }
        }),
      /** Logout: revokes the family of `token` if it belongs to `userId`; unknown tokens change nothing. */
      revokeFamilyOf: (token: string, userId: UserId) =>
        Effect.gen(function*() {
          const found = yield* tokens.findOne({ _id: digest(token) })
          if (Option.isSome(found) && found.value.userId === userId) yield* revoke(found.value.familyId, userId, "logout", null)
        })
    }
  })
}) {}
