import { UserId } from "@herald/domain/Ids"
import { User } from "@herald/domain/User"
import { VersionedCache } from "@herald/infra/Cache"
import { DocumentStore } from "@herald/infra/Store"
import { Duration, Effect, Option, Queue, Schedule, Schema } from "effect"
import { ProfileCacheConfig } from "./UsersConfig.ts"


const encode = Schema.encodeSync(Schema.parseJson(User))
const decode = Schema.decodeUnknownOption(Schema.parseJson(User))

/** A profile whose cache entry could not be replaced: the entry must go before the cache is trusted again. */
const PendingInvalidation = Schema.Struct({ _id: UserId, version: Schema.Int })

const sweepEvery = Duration.seconds(1)

/**
 * Read-through, versioned profile cache on Redis: an update writes through, and an entry Redis did not take is
 * recorded and swept, so no copy serves the old profile after a PATCH (services/users/README.md).
 */
export class ProfileCache extends Effect.Service<ProfileCache>()("Herald/ProfileCache", {
  scoped: Effect.gen(function*() {
    const cache = yield* VersionedCache
    const store = yield* DocumentStore
    const ttl = yield* ProfileCacheConfig
    const pending = yield* store.collection({ name: "profile_cache_invalidations", schema: PendingInvalidation, indexes: [] })
    const key = (userId: string) => `profile:${userId}`
    let trusted = true
    // Bumped by every failure: a sweep restores trust only if no failure happened while it ran.
    let failures = 0
    const wake = yield* Queue.sliding<void>(1)
    const distrust = (what: string) => (error: unknown) =>
      Effect.gen(function*() {
        if (trusted) yield* Effect.logWarning(`profile cache ${what} failed; reading from MongoDB until Redis answers`, error)
        trusted = false
        failures += 1
        yield* Queue.offer(wake, undefined)
      })

    // Drops every recorded entry; trust returns only when none is left and Redis answers.
    const sweep = Effect.gen(function*() {
      const seen = failures
      const recorded = yield* pending.find({})
      for (const entry of recorded) {
        yield* cache.remove(key(entry._id))
        yield* pending.deleteOne({ _id: entry._id, version: entry.version })
      }
      yield* cache.probe
      if (failures !== seen) return
      if (!trusted) yield* Effect.logInfo("profile cache trusted again")
      trusted = true
    }).pipe(Effect.ignore)
    yield* sweep.pipe(
      Effect.zipRight(Queue.take(wake).pipe(Effect.timeout(sweepEvery), Effect.ignore)),
      Effect.forever,
      Effect.forkScoped
    )

    return {
      get: (userId: string) =>
        trusted
          ? cache.get(key(userId)).pipe(
            Effect.map(Option.flatMap(decode)),
            Effect.catchAll((error) => Effect.as(distrust("read")(error), Option.none<User>()))
          )
          : Effect.succeed(Option.none<User>()),
      put: (user: User, version: number) =>
        trusted ? cache.put(key(user.id), version, encode(user), ttl).pipe(Effect.catchAll(distrust("write"))) : Effect.void,
      /** After an update: the new version replaces the cached one, or the cached one is dropped before it is read. */
      refresh: (user: User, version: number) =>
        cache.put(key(user.id), version, encode(user), ttl).pipe(
          Effect.catchAll((error) =>
            // Recorded first, then distrusted: a sweep that restores trust has seen the record.
            pending.updateOne({ _id: user.id }, { $set: { version } }, { upsert: true }).pipe(
              Effect.retry(Schedule.exponential("50 millis").pipe(Schedule.intersect(Schedule.recurs(3)))),
              Effect.catchAll((failure) => Effect.logError("could not record a profile cache invalidation", failure)),
              Effect.zipRight(distrust("refresh")(error))
            )
          )
        )
    }
  })
}) {}
