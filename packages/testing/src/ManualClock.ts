import { Clock, Effect } from "effect"

/** A clock whose time the test sets while sleeps take real time (why not `TestClock`: packages/testing/README.md). */
export interface ManualClock extends Clock.Clock {
  readonly set: (millis: number) => Effect.Effect<void>
}

export const make = (start: number): ManualClock => {
  const live = Clock.make()
  let now = start
  const currentTimeMillis = Effect.sync(() => now)
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    currentTimeMillis,
    unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
    currentTimeNanos: Effect.map(currentTimeMillis, (millis) => BigInt(millis) * 1_000_000n),
    sleep: (duration) => live.sleep(duration),
    set: (millis) => Effect.sync(() => { now = millis })
  }
}
