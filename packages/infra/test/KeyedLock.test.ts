import { describe, expect, it } from "@effect/vitest"
import { Effect, Ref } from "effect"
import * as KeyedLock from "../src/KeyedLock.ts"

describe("KeyedLock", () => {
  it.scopedLive("effects on one key run one after another, on different keys side by side", () =>
    Effect.gen(function*() {
      const lock = yield* KeyedLock.make
      const inside = yield* Ref.make(new Map<string, number>())
      const most = yield* Ref.make(new Map<string, number>())
      const enter = (key: string) =>
        Effect.gen(function*() {
          const now = (yield* Ref.get(inside)).get(key) ?? 0
          yield* Ref.update(inside, (m) => new Map(m).set(key, now + 1))
          yield* Ref.update(most, (m) => new Map(m).set(key, Math.max(m.get(key) ?? 0, now + 1)))
          yield* Effect.sleep("5 millis")
          yield* Ref.update(inside, (m) => new Map(m).set(key, (m.get(key) ?? 1) - 1))
        })
      const started = Date.now()
      yield* Effect.forEach(["a", "a", "a", "b", "b", "b", "c"], (key) => lock.withLock(key)(enter(key)), { concurrency: "unbounded" })
      expect(Object.fromEntries(yield* Ref.get(most))).toEqual({ a: 1, b: 1, c: 1 })
      // Three keys in parallel: about three sleeps, not seven.
      expect(Date.now() - started).toBeLessThan(7 * 5 + 30)
    }))

  it.scopedLive("several keys are taken in one order, so crossing callers do not deadlock", () =>
    Effect.gen(function*() {
      const lock = yield* KeyedLock.make
      const done = yield* Ref.make(0)
      yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? ["x", "y"] : ["y", "x"])),
        (keys) => lock.withLocks(keys)(Effect.zipRight(Effect.sleep("1 millis"), Ref.update(done, (n) => n + 1))),
        { concurrency: "unbounded" }
      ).pipe(Effect.timeout("5 seconds"))
      expect(yield* Ref.get(done)).toBe(20)
    }))
})
