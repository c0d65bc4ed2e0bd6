import type { DependencyUnavailable } from "@herald/domain/Errors"
import type { UserId } from "@herald/domain/Ids"
import { deliversInApp, preferencesChannel, PreferencesUpdated, type VersionedPreferences } from "@herald/domain/Preferences"
import { RealtimeBus } from "@herald/infra/Realtime"
import { callUsers, UsersClient } from "@herald/infra/ServiceClients"
import { Cache, Cause, Duration, Effect, Exit, Metric, Schema, Stream } from "effect"
import { PreferencesCacheConfig } from "./NotificationsConfig.ts"


const decodeUpdated = Schema.decodeUnknownOption(Schema.parseJson(PreferencesUpdated))

/** Users whose preferences one `GetPreferencesOf` call reads (the RPC's bound), for a delivery's missing copies. */
const preferencesBatch = 1000

/** Reads one by one at once, where the batch failed (a users service of the previous release). */
const preferenceReads = 32

const usersRead = (how: "batch" | "one") =>
  Metric.counter("herald_preferences_read_total", { description: "Users whose preferences were read from the users service" }).pipe(
    Metric.tagged("how", how)
  )
const readInBatches = usersRead("batch")
const readOneByOne = usersRead("one")

/**
 * A bounded cache of recipients' preferences read from the users service, dropped on `user.preferences_updated` so
 * the next event follows a change; `PREFERENCES_CACHE_TTL` bounds a lost announcement (the README has the design).
 */
export class RecipientPreferences extends Effect.Service<RecipientPreferences>()("Herald/RecipientPreferences", {
  scoped: Effect.gen(function*() {
    const users = yield* UsersClient
    const bus = yield* RealtimeBus
    const config = yield* PreferencesCacheConfig
    const cache = yield* Cache.makeWith({
      capacity: config.capacity,
      lookup: (userId: UserId) => Effect.zipRight(Metric.increment(readOneByOne), callUsers(users.GetPreferences({ userId }))),
      // A failed read is not remembered: the message is retried and reads again.
      timeToLive: (exit) => Exit.isSuccess(exit) ? config.ttl : Duration.zero
    })
    // The lowest version a copy must have, for users whose copy (or read in flight) predates an announcement.
    const floors = new Map<string, number>()
    // Users in a batch read under way (not the cache's own lookups): an announcement meanwhile sets their floor.
    const batchReads = new Map<string, number>()
    const updates = yield* bus.subscribe(preferencesChannel)
    yield* updates.pipe(
      Stream.filterMap(decodeUpdated),
      Stream.runForEach(({ userId, version }) =>
        Effect.gen(function*() {
          if ((yield* cache.contains(userId)) || batchReads.has(userId)) floors.set(userId, Math.max(floors.get(userId) ?? 0, version))
          yield* cache.invalidate(userId)
        })),
      Effect.forkScoped
    )
    const current = (userId: UserId): Effect.Effect<VersionedPreferences, DependencyUnavailable> =>
      Effect.gen(function*() {
        let stored = yield* cache.get(userId)
        const floor = floors.get(userId)
        if (floor === undefined) return stored
        if (stored.version < floor) {
          yield* cache.invalidate(userId)
          stored = yield* cache.get(userId)
        }
        // Kept while a batch read of this user is out: it may bring an older copy.
        if (stored.version >= floor && !batchReads.has(userId)) floors.delete(userId)
        return stored
      })
    const mark = (userIds: ReadonlyArray<UserId>, by: 1 | -1) =>
      Effect.sync(() => {
        for (const userId of userIds) {
          const count = (batchReads.get(userId) ?? 0) + by
          if (count > 0) batchReads.set(userId, count)
          else batchReads.delete(userId)
        }
      })
    /** Caches a batch's copy unless another read got there first or an announcement made it stale. */
    const keep = (userId: UserId, stored: VersionedPreferences) =>
      Effect.flatMap(cache.contains(userId), (has) =>
        has || stored.version < (floors.get(userId) ?? 0) ? Effect.void : cache.set(userId, stored))
    /** Fills the cache for the users it lacks, a batch per call; on failure each is read alone by `current`. */
    const warm = (userIds: ReadonlyArray<UserId>) =>
      Effect.gen(function*() {
        const missing = yield* Effect.filter(new Set(userIds), (userId) => Effect.map(cache.contains(userId), (has) => !has))
        for (let start = 0; start < missing.length; start += preferencesBatch) {
          const batch = missing.slice(start, start + preferencesBatch)
          yield* Effect.acquireUseRelease(
            mark(batch, 1),
            () =>
              callUsers(users.GetPreferencesOf({ userIds: batch })).pipe(
                Effect.tap(() => Metric.incrementBy(readInBatches, batch.length)),
                Effect.flatMap((read) => Effect.forEach(read, ({ userId, ...stored }) => keep(userId, stored), { discard: true }))
              ),
            () => mark(batch, -1)
          )
        }
      }).pipe(
        // A users service of the previous release answers the unknown call with a defect: read one by one then.
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.logWarning("batched preferences read failed; reading one by one", cause))
      )
    return {
      current,
      /** The notifications whose recipients take them in-app, in order. */
      keepInApp: <Doc extends { readonly userId: UserId; readonly type: string }>(docs: ReadonlyArray<Doc>) =>
        Effect.zipRight(
          warm(docs.map((doc) => doc.userId)),
          Effect.filter(docs, (doc) => Effect.map(current(doc.userId), (stored) => deliversInApp(stored.preferences, doc.type)), {
            concurrency: preferenceReads
          })
        )
    }
  })
}) {}
