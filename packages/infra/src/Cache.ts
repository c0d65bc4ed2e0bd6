import type { DependencyUnavailable } from "@herald/domain/Errors"
import { Clock, Context, Duration, Effect, Layer, Option } from "effect"
import { command, Redis } from "./Redis.ts"
import { sweepMap } from "./Ttl.ts"

/**
 * A versioned cache: each value carries the version of the record it copies, and a write never replaces a newer
 * version. A reader that loaded an old record from the database before a writer's update therefore cannot put the
 * old copy back after the writer refreshed the cache.
 */
export class VersionedCache extends Context.Tag("Herald/VersionedCache")<VersionedCache, {
  readonly kind: "redis" | "memory"
  /** Whether the server behind the cache answers (for readiness). */
  readonly probe: Effect.Effect<void, DependencyUnavailable>
  readonly get: (key: string) => Effect.Effect<Option.Option<string>, DependencyUnavailable>
  /** Stores `value` unless the cache already holds this version or a newer one. */
  readonly put: (key: string, version: number, value: string, ttl: Duration.Duration) => Effect.Effect<void, DependencyUnavailable>
  readonly remove: (key: string) => Effect.Effect<void, DependencyUnavailable>
  /** A plain marker with a time to live (revoked token families). */
  readonly mark: (key: string, ttl: Duration.Duration) => Effect.Effect<void, DependencyUnavailable>
  /** Whether the marker is there; `timeout` bounds the wait for Redis (default one second). */
  readonly isMarked: (key: string, timeout?: Duration.DurationInput) => Effect.Effect<boolean, DependencyUnavailable>
}>() {}

const putScript = `
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`

export const layerRedis: Layer.Layer<VersionedCache, never, Redis> = Layer.effect(
  VersionedCache,
  Effect.gen(function*() {
    const redis = yield* Redis
    const key = (name: string) => `${redis.prefix}cache:${name}`
    return VersionedCache.of({
      kind: "redis",
      probe: redis.probe,
      get: (name) =>
        command(() => redis.client.hget(key(name), "d")).pipe(Effect.map(Option.fromNullable)),
      put: (name, version, value, ttl) =>
        command(() => redis.client.eval(putScript, 1, key(name), version, value, Duration.toMillis(ttl))).pipe(
          Effect.asVoid
        ),
      remove: (name) => command(() => redis.client.del(key(name))).pipe(Effect.asVoid),
      mark: (name, ttl) =>
        command(() => redis.client.set(key(name), "1", "PX", Duration.toMillis(ttl))).pipe(Effect.asVoid),
      isMarked: (name, timeout) => command(() => redis.client.exists(key(name)), timeout).pipe(Effect.map((count) => count > 0))
    })
  })
)

export const layerMemory: Layer.Layer<VersionedCache> = Layer.scoped(
  VersionedCache,
  Effect.gen(function*() {
    const entries = new Map<string, { version: number; value: string; expiresAt: number }>()
    const live = (name: string, now: number) => {
      const entry = entries.get(name)
      if (entry !== undefined && entry.expiresAt <= now) entries.delete(name)
      return entry !== undefined && entry.expiresAt > now ? entry : undefined
    }
    yield* sweepMap(entries, (entry, now) => entry.expiresAt <= now)
    const set = (name: string, version: number, value: string, ttl: Duration.Duration) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const current = live(name, now)
        if (current === undefined || current.version < version) {
          entries.set(name, { version, value, expiresAt: now + Duration.toMillis(ttl) })
        }
      })
    return VersionedCache.of({
      kind: "memory",
      probe: Effect.void,
      get: (name) => Effect.map(Clock.currentTimeMillis, (now) => Option.fromNullable(live(name, now)?.value)),
      put: set,
      remove: (name) => Effect.sync(() => void entries.delete(name)),
      mark: (name, ttl) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          entries.set(name, { version: 0, value: "1", expiresAt: now + Duration.toMillis(ttl) })
        }),
      isMarked: (name) => Effect.map(Clock.currentTimeMillis, (now) => live(name, now) !== undefined)
    })
  })
)
