import { Effect } from "effect"

/**
 * One writer per key within this process: effects on the same key run one after another, different keys in
 * parallel. Herald's documents are written through such locks so that concurrent updates of one document never
 * interleave (FerretDB applies updates non-atomically; see FERRETDB.md).
 */
export interface KeyedLock {
  readonly withLock: (key: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Several keys, taken in a fixed order so two callers never wait on each other. */
  readonly withLocks: (keys: ReadonlyArray<string>) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export const make: Effect.Effect<KeyedLock> = Effect.sync(() => {
  const holders = new Map<string, { readonly semaphore: Effect.Semaphore; users: number }>()
  const withLock = (key: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        const holder = holders.get(key) ?? { semaphore: Effect.unsafeMakeSemaphore(1), users: 0 }
        holder.users += 1
        holders.set(key, holder)
        return holder
      }),
      (holder) => holder.semaphore.withPermits(1)(effect),
      (holder) =>
        Effect.sync(() => {
          holder.users -= 1
          if (holder.users === 0) holders.delete(key)
        })
    )
  const withLocks = (keys: ReadonlyArray<string>) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    [...new Set(keys)].sort().reduceRight((inner, key) => withLock(key)(inner), effect)
  return { withLock, withLocks }
})
