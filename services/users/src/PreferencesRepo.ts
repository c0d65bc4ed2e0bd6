import type { DependencyUnavailable } from "@herald/domain/Errors"
import { UserId } from "@herald/domain/Ids"
import {
  defaultPreferences,
  Preferences,
  preferencesChannel,
  PreferencesUpdated,
  type VersionedPreferences
} from "@herald/domain/Preferences"
import { RealtimeBus } from "@herald/infra/Realtime"
import { DocumentStore } from "@herald/infra/Store"
import { Clock, Effect, Option, Schema } from "effect"

const PreferencesDoc = Schema.Struct({
  _id: UserId,
  version: Schema.Int,
  /** As JSON text: type names contain dots, which MongoDB-wire servers refuse in keys (FerretDB does). */
  preferences: Schema.String,
  updatedAt: Schema.DateFromSelf
})

const decodePreferences = Schema.decodeUnknown(Schema.parseJson(Preferences))
const encodePreferences = Schema.encodeSync(Schema.parseJson(Preferences))
const encodeUpdated = Schema.encodeSync(Schema.parseJson(PreferencesUpdated))

/**
 * Users' notification preferences, owned by the users service. After each change, `user.preferences_updated`
 * (user and version) goes out on the real-time bus: the notifications service drops its copy on it, so the next
 * event it handles reads the new preferences (see README, "Preferences").
 */
export class PreferencesRepo extends Effect.Service<PreferencesRepo>()("Herald/PreferencesRepo", {
  scoped: Effect.gen(function*() {
    const store = yield* DocumentStore
    const bus = yield* RealtimeBus
    const docs = yield* store.collection({ name: "user_preferences", schema: PreferencesDoc, indexes: [] })

    const versioned = (doc: Option.Option<typeof PreferencesDoc.Type>): Effect.Effect<VersionedPreferences> =>
      Option.match(doc, {
        onNone: () => Effect.succeed({ version: 0, preferences: defaultPreferences }),
        onSome: (doc) => Effect.map(Effect.orDie(decodePreferences(doc.preferences)), (preferences) => ({ version: doc.version, preferences }))
      })

    return {
      get: (userId: UserId): Effect.Effect<VersionedPreferences, DependencyUnavailable> =>
        Effect.flatMap(docs.findOne({ _id: userId }), versioned),
      /** One query for many users; those who never set any get the defaults at version 0. */
      getMany: (userIds: ReadonlyArray<UserId>) =>
        Effect.gen(function*() {
          const found = new Map((yield* docs.find({ _id: { $in: [...userIds] } })).map((doc) => [doc._id, doc]))
          return yield* Effect.forEach(userIds, (userId) =>
            Effect.map(versioned(Option.fromNullable(found.get(userId))), (stored) => ({ userId, ...stored })))
        }),
      put: (userId: UserId, preferences: Preferences) =>
        Effect.gen(function*() {
          const now = new Date(yield* Clock.currentTimeMillis)
          const stored = yield* docs.findOneAndUpdate(
            { _id: userId },
            { $set: { preferences: encodePreferences(preferences), updatedAt: now }, $inc: { version: 1 } },
            { returnDocument: "after", upsert: true }
          ).pipe(Effect.catchTag("DuplicateKey", () =>
            // Two first writes raced on the upsert: the loser applies its change to the winner's document.
            docs.findOneAndUpdate(
              { _id: userId },
              { $set: { preferences: encodePreferences(preferences), updatedAt: now }, $inc: { version: 1 } },
              { returnDocument: "after" }
            ).pipe(Effect.catchTag("DuplicateKey", (error) => Effect.die(error)))))
          const version = Option.match(stored, { onNone: () => 1, onSome: (doc) => doc.version })
          yield* bus.publish(preferencesChannel, encodeUpdated({ type: "user.preferences_updated", userId, version })).pipe(
            Effect.catchAll((error) => Effect.logWarning("preferences change not announced; copies expire by PREFERENCES_CACHE_TTL", error))
          )
          return { version, preferences }
        })
    }
  })
}) {}
