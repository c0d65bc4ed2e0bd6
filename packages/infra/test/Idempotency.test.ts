import { expect, layer } from "@effect/vitest"
import { servers, uniqueName } from "@herald/testing/Env"
import { Duration, Effect, Layer, Redacted, TestClock } from "effect"
import * as Idempotency from "../src/Idempotency.ts"
import * as Redis from "../src/Redis.ts"

const redisLayer = () =>
  Redis.layer({ url: Redacted.make(servers().redisUrl), prefix: `${uniqueName("idem")}:`, connectRetries: 2 }, { required: true })

/** Lets time pass for both kinds of layer: real time for the server, the test clock for the in-memory twin. */
const elapse = (millis: number) =>
  Effect.promise(() => new Promise((resolve) => setTimeout(resolve, millis))).pipe(
    Effect.zipRight(TestClock.adjust(Duration.millis(millis)))
  )

const response = (id: string): Idempotency.StoredResponse => ({
  status: 201,
  headers: { "content-type": "application/json", location: `/api/tasks/${id}` },
  body: Buffer.from(JSON.stringify({ id })).toString("base64")
})

const acquired = (claim: Idempotency.Claim) => {
  if (claim._tag !== "Acquired") throw new Error(`expected the key to be acquired, got ${claim._tag}`)
  return claim.lease
}

const contract = (name: string, records: Layer.Layer<Idempotency.Idempotency, unknown>) =>
  layer(records)(`Idempotency records contract: ${name}`, (it) => {
    it.effect("of many concurrent claims of one key exactly one gets the lease; the others see it in flight", () =>
      Effect.gen(function*() {
        const store = yield* Idempotency.Idempotency
        const claims = yield* Effect.forEach(Array.from({ length: 40 }), () => store.claim("concurrent", "f1", 60_000), {
          concurrency: "unbounded"
        })
        expect(claims.filter((c) => c._tag === "Acquired")).toHaveLength(1)
        expect(claims.filter((c) => c._tag === "InFlight")).toHaveLength(39)
      }))

    it.effect("a completed key replays its response to the same request and refuses a different one", () =>
      Effect.gen(function*() {
        const store = yield* Idempotency.Idempotency
        const lease = acquired(yield* store.claim("done", "f1", 60_000))
        expect(yield* store.claim("done", "f2", 60_000)).toEqual({ _tag: "Mismatch" })
        yield* store.complete("done", lease, response("t1"), 60_000)
        expect(yield* store.claim("done", "f1", 60_000)).toEqual({ _tag: "Completed", response: response("t1") })
        expect(yield* store.claim("done", "f2", 60_000)).toEqual({ _tag: "Mismatch" })
        expect((yield* store.claim("other-key", "f2", 60_000))._tag).toBe("Acquired")
      }))

    it.effect("a released key can be claimed again", () =>
      Effect.gen(function*() {
        const store = yield* Idempotency.Idempotency
        const lease = acquired(yield* store.claim("released", "f1", 60_000))
        yield* store.release("released", lease)
        expect((yield* store.claim("released", "f1", 60_000))._tag).toBe("Acquired")
      }))

    it.effect("a lease that ran out frees the key, and its late holder can neither complete nor release it", () =>
      Effect.gen(function*() {
        const store = yield* Idempotency.Idempotency
        const late = acquired(yield* store.claim("expired", "f1", 200))
        yield* elapse(350)
        const current = acquired(yield* store.claim("expired", "f1", 60_000))
        yield* store.complete("expired", late, response("late"), 60_000)
        yield* store.release("expired", late)
        expect(yield* store.claim("expired", "f1", 60_000)).toEqual({ _tag: "InFlight" })
        yield* store.complete("expired", current, response("current"), 60_000)
        expect(yield* store.claim("expired", "f1", 60_000)).toEqual({ _tag: "Completed", response: response("current") })
      }))

    it.effect("a recorded response is forgotten after its time to live", () =>
      Effect.gen(function*() {
        const store = yield* Idempotency.Idempotency
        const lease = acquired(yield* store.claim("ttl", "f1", 60_000))
        yield* store.complete("ttl", lease, response("t1"), 200)
        expect((yield* store.claim("ttl", "f1", 60_000))._tag).toBe("Completed")
        yield* elapse(350)
        expect((yield* store.claim("ttl", "f2", 60_000))._tag).toBe("Acquired")
      }))
  })

contract("Redis", Idempotency.layerRedis({ timeout: "1 second" }).pipe(Layer.provide(redisLayer())))
contract("in memory", Idempotency.layerMemory)
