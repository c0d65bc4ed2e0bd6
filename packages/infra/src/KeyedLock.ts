import { Effect, RcMap, Scope } from "effect"

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

/** A semaphore of one permit per key, kept while anyone holds or waits for it (an `RcMap`), gone after. */
export const make: Effect.Effect<KeyedLock, never, Scope.Scope> = Effect.map(
  RcMap.make({ lookup: (_key: string) => Effect.makeSemaphore(1) }),
  (semaphores) => {
    const withLock = (key: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.acquireUseRelease(
        Scope.make(),
        (scope) => Effect.flatMap(Scope.extend(RcMap.get(semaphores, key), scope), (semaphore) => semaphore.withPermits(1)(effect)),
        (scope, exit) => Scope.close(scope, exit)
      )
    const withLocks = (keys: ReadonlyArray<string>) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      [...new Set(keys)].sort().reduceRight((inner, key) => withLock(key)(inner), effect)
    return { withLock, withLocks }
  }
)
