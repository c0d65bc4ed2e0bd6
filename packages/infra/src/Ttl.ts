import { Clock, Effect, Option, Schedule } from "effect"
import type { Index } from "./Store.ts"

const ttlField = <Doc>(index: Index<Doc>): Option.Option<{ readonly field: string; readonly seconds: number }> => {
  const [field] = Object.keys(index.keys)
  return index.expireAfterSeconds === undefined || field === undefined
    ? Option.none()
    : Option.some({ field, seconds: index.expireAfterSeconds })
}

/**
 * Deletes expired documents every `every`: the TTL index FerretDB (code 238) and the memory store cannot keep.
 * With `leading`, a round deletes only while it says so (a lease: one copy sweeps a shared collection).
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
