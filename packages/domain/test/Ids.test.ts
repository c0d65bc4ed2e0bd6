import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import * as fc from "fast-check"
import { newNotificationId } from "../src/Ids.ts"

describe("ids", () => {
  it.effect("ids made within one millisecond, or with a clock that steps back, sort in the order they were made", () =>
    Effect.gen(function*() {
      // Each step: how far the clock moves (often not at all, sometimes backwards) before the next id.
      const steps = fc.sample(fc.array(fc.oneof(fc.constant(0), fc.integer({ min: -5, max: 5 })), { minLength: 50, maxLength: 400 }), 20)
      for (const moves of steps) {
        const made: Array<string> = []
        for (const move of moves) {
          yield* TestClock.setTime(Math.max(0, 1_800_000_000_000 + move))
          made.push(yield* newNotificationId)
        }
        expect([...made].sort()).toEqual(made)
        expect(new Set(made).size).toBe(made.length)
      }
    }))
})
