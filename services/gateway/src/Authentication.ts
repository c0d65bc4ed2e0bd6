import { Authentication } from "@herald/domain/Auth"
import { Unauthorized } from "@herald/domain/Errors"
import { VersionedCache } from "@herald/infra/Cache"
import { type AccessClaims, makeVerifier, TokenVerifier } from "@herald/infra/Jwt"
import { isRevoked } from "@herald/infra/Revocations"
import { Effect, Layer, Redacted } from "effect"
import { callUsers, UsersClient } from "@herald/infra/ServiceClients"

/**
 * Verifies access tokens with the users service's published keys: fetched once, fetched again (rate-limited) when a
 * token names an unknown `kid` or fails the signature of a known one, as after the users service changed its key.
 */
export const VerifierLive = Layer.effect(
  TokenVerifier,
  Effect.flatMap(UsersClient, (users) => makeVerifier(callUsers(users.Jwks())))
)

/** Access token → claims, refusing tokens of a revoked family. Redis being down does not lock users out. */
export const authenticate = (token: string) =>
  Effect.gen(function*() {
    if (token.trim() === "") return yield* Effect.fail(new Unauthorized({ message: "missing bearer access token" }))
    const verifier = yield* TokenVerifier
    const cache = yield* VersionedCache
    const claims: AccessClaims = yield* verifier.verify(token)
    const revoked = yield* isRevoked(cache, claims.familyId, "150 millis").pipe(
      Effect.catchAll((error) =>
        Effect.as(Effect.logWarning("cannot check token revocation (Redis unavailable); accepting the token", error), false)
      )
    )
    if (revoked) return yield* Effect.fail(new Unauthorized({ message: "access token revoked" }))
    return claims
  })

export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.gen(function*() {
    const context = yield* Effect.context<TokenVerifier | VersionedCache>()
    return Authentication.of({
      bearer: (token) =>
        authenticate(Redacted.value(token)).pipe(
          Effect.map((claims) => ({ userId: claims.userId, familyId: claims.familyId, tokenId: claims.tokenId })),
          Effect.provide(context)
        )
    })
  })
)
