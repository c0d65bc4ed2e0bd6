import type { DependencyUnavailable } from "@herald/domain/Errors"
import type { UserId } from "@herald/domain/Ids"
import { deliversInApp, preferencesChannel, PreferencesUpdated, type VersionedPreferences } from "@herald/domain/Preferences"
import { RealtimeBus } from "@herald/infra/Realtime"
import { callUsers, UsersClient } from "@herald/infra/ServiceClients"
import { Cache, Duration, Effect, Exit, Schema, Stream } from "effect"
import { PreferencesCacheConfig } from "./NotificationsConfig.ts"


const decodeUpdated = Schema.decodeUnknownOption(Schema.parseJson(PreferencesUpdated))

/** Preferences read from the users service at once, for the recipients of one delivery whose copy is missing. */
const preferenceReads = 32

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
      lookup: (userId: UserId) => callUsers(users.GetPreferences({ userId })),
      // A failed read is not remembered: the message is retried and reads again.
      timeToLive: (exit) => Exit.isSuccess(exit) ? config.ttl : Duration.zero
    })
    // The lowest version a copy must have, for users whose copy (or read in flight) predates an announcement.
    const floors = new Map<string, number>()
    const updates = yield* bus.subscribe(preferencesChannel)
    yield* updates.pipe(
      Stream.filterMap(decodeUpdated),
      Stream.runForEach(({ userId, version }) =>
        Effect.gen(function*() {
          if (yield* cache.contains(userId)) floors.set(userId, Math.max(floors.get(userId) ?? 0, version))
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
        if (stored.version >= floor) floors.delete(userId)
        return stored
      })
    return {
      current,
      /** The notifications whose recipients take them in-app, in order. */
      keepInApp: <Doc extends { readonly userId: UserId; readonly type: string }>(docs: ReadonlyArray<Doc>) =>
        Effect.filter(docs, (doc) => Effect.map(current(doc.userId), (stored) => deliversInApp(stored.preferences, doc.type)), {
          // An event told to a whole project reads the preferences of every member it has not read yet.
          concurrency: preferenceReads
        })
    }
  })
}) {}
