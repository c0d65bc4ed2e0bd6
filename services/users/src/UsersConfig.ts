import { Config, Duration } from "effect"

/** Every setting of the users service's own (the shared infrastructure's are in `@herald/infra/InfraConfig`). */

/** bcrypt's cost factor: 2^cost rounds per hash. */
export const PasswordConfig = Config.integer("BCRYPT_COST").pipe(
  Config.withDefault(12),
  Config.validate({ message: "must be between 4 and 15", validation: (cost) => cost >= 4 && cost <= 15 })
)

/** How long a profile may be served from the cache. */
export const ProfileCacheConfig = Config.duration("PROFILE_CACHE_TTL").pipe(Config.withDefault(Duration.hours(1)))

/** How long a refresh token (and so a login) lives without being used. */
export const RefreshConfig = Config.duration("REFRESH_TOKEN_TTL").pipe(Config.withDefault(Duration.days(30)))
