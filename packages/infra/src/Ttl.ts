import { Clock, Effect, Option, Schedule } from "effect"
import type { Index } from "./Store.ts"

const ttlField = <Doc>(index: Index<Doc>): Option.Option<{ readonly field: string; readonly seconds: number }> => {
  const [field] = Object.keys(index.keys)
  return index.expireAfterSeconds === undefined || field === undefined
    ? Option.none()
    : Option.some({ field, seconds: index.expireAfterSeconds })
}

/**
 * Deletes expired documents every `every`: the TTL index a server cannot keep itself (FerretDB answers 238 to
 * `expireAfterSeconds`, and the memory store has no background expiry). A document expires once it is older than
 * the index's lifetime (its date strictly before now minus the lifetime). With `leading`, a round deletes only while
 * it says so (a lease: one copy of a service sweeps a shared collection, not every copy).
 */
export const sweepExpired = <Doc>(
  indexes: ReadonlyArray<Index<Doc>>,
  deleteOlderThan: (field: string, cutoff: Date) => Effect.Effect<number, unknown>,
  every: `${number} ${"millis" | "seconds" | "minutes"}`,
  leading: Effect.Effect<boolean> = Effect.succeed(true)
) =>
  Effect.forEach(indexes.flatMap((index) => Option.toArray(ttlField(index))), ({ field, seconds }) =>
    Clock.currentTimeMillis.pipe(
      Effect.flatMap((now) => deleteOlderThan(field, new Date(now - seconds * 1000))),
      Effect.whenEffect(leading),
      Effect.catchAll((error) => Effect.logWarning("TTL sweep failed", error)),
      Effect.repeat(Schedule.spaced(every)),
      Effect.forkScoped
    ), { discard: true })


/** Every minute, deletes the entries of an in-memory twin's map that `expiredAt` says are over (their TTL). */
export const sweepMap = <K, V>(entries: Map<K, V>, expiredAt: (value: V, now: number) => boolean) =>
  Clock.currentTimeMillis.pipe(
    Effect.map((now) => {
      for (const [key, value] of entries) if (expiredAt(value, now)) entries.delete(key)
    }),
    Effect.repeat(Schedule.spaced("1 minute")),
    Effect.forkScoped
  )
