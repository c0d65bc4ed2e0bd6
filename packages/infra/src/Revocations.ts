import type { DependencyUnavailable } from "@herald/domain/Errors"
import type { Duration, Effect } from "effect"
import type { VersionedCache } from "./Cache.ts"

/**
 * Revoked refresh-token families, as the gateway sees them: the users service marks a family when it is revoked
 * (logout, reuse of a spent token), for as long as an access token of that family could still be valid, and the
 * gateway refuses access tokens that carry a marked family. Access tokens are otherwise stateless.
 */
const key = (familyId: string) => `revoked-family:${familyId}`

export const markRevoked = (
  cache: VersionedCache["Type"],
  familyId: string,
  accessTokenTtl: Duration.Duration
): Effect.Effect<void, DependencyUnavailable> => cache.mark(key(familyId), accessTokenTtl)

export const isRevoked = (
  cache: VersionedCache["Type"],
  familyId: string,
  timeout?: Duration.DurationInput
): Effect.Effect<boolean, DependencyUnavailable> => cache.isMarked(key(familyId), timeout)
