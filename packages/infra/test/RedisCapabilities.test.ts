import { describe, expect, it, layer } from "@effect/vitest"
import { servers, uniqueName } from "@herald/testing/Env"
import { findBinary, freePort, waitForPort } from "@herald/testing/Ports"
import { startRedis } from "@herald/testing/RedisServer"
import { Chunk, Context, Duration, Effect, Exit, FastCheck as fc, Fiber, Layer, Option, Redacted, Schedule, Scope, Stream, TestClock, TestServices } from "effect"
import * as Cache from "../src/Cache.ts"
import * as RateLimiter from "../src/RateLimiter.ts"
import * as Realtime from "../src/Realtime.ts"
import * as Redis from "../src/Redis.ts"
import * as Revocations from "../src/Revocations.ts"
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"

const redisConfig = (url: string, connectRetries = 2) => ({
  url: Redacted.make(url),
  prefix: `${uniqueName("redis")}:`,
  connectRetries
})

const redisLayer = () => Redis.layer(redisConfig(servers().redisUrl), { required: true })

const live = {
  limiter: RateLimiter.layerRedis({ timeout: "1 second" }),
  cache: Cache.layerRedis,
  realtime: Realtime.layerRedis
}

/** Lets time pass for both kinds of layer: real time for the server, the test clock for the in-memory twin. */
const elapse = (millis: number) =>
  Effect.promise(() => new Promise((resolve) => setTimeout(resolve, millis))).pipe(
    Effect.zipRight(TestClock.adjust(Duration.millis(millis)))
  )

const contract = (
  name: string,
  layers: Layer.Layer<RateLimiter.RateLimiter | Cache.VersionedCache | Realtime.RealtimeBus, unknown>
) =>
  layer(layers)(`Redis-backed capabilities contract: ${name}`, (it) => {
    it.effect("the limiter admits exactly the budget of concurrent hits and counts down", () =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter.RateLimiter
        const decisions = yield* Effect.forEach(
          Array.from({ length: 60 }, () => "exact"),
          (key) => limiter.hit(key, 25, 60_000),
          { concurrency: "unbounded" }
        )
        expect(decisions.filter((d) => d.allowed)).toHaveLength(25)
        expect(decisions.map((d) => d.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1))
        const remaining = decisions.filter((d) => d.allowed).map((d) => d.remaining).sort((a, b) => b - a)
        expect(remaining).toEqual(Array.from({ length: 25 }, (_, i) => 24 - i))
        expect(decisions.every((d) => d.resetMs > 0 && d.resetMs <= 60_000)).toBe(true)
      }))

    it.effect("checks of several keys made together are each decided by their own key, budget and window", () =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter.RateLimiter
        const hits = [
          ...Array.from({ length: 3 }, () => ({ key: "mixed-a", limit: 2, windowMs: 60_000 })),
          ...Array.from({ length: 2 }, () => ({ key: "mixed-b", limit: 1, windowMs: 5_000 })),
          { key: "mixed-c", limit: 5, windowMs: 1_000 }
        ]
        const decisions = yield* Effect.forEach(hits, (hit) => limiter.hit(hit.key, hit.limit, hit.windowMs), {
          concurrency: "unbounded"
        })
        const of = (key: string) => decisions.filter((_, i) => hits[i]?.key === key)
        expect(of("mixed-a").map((d) => [d.count, d.allowed])).toEqual([[1, true], [2, true], [3, false]])
        expect(of("mixed-b").map((d) => [d.count, d.allowed])).toEqual([[1, true], [2, false]])
        expect(of("mixed-c").map((d) => [d.count, d.remaining])).toEqual([[1, 4]])
        expect(of("mixed-b").every((d) => d.resetMs > 1_000 && d.resetMs <= 5_000)).toBe(true)
        expect(of("mixed-c").every((d) => d.resetMs <= 1_000)).toBe(true)
      }))

    it.effect("the limiter's window resets", () =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter.RateLimiter
        const first = yield* limiter.hit("reset", 1, 300)
        const second = yield* limiter.hit("reset", 1, 300)
        expect([first.allowed, second.allowed]).toEqual([true, false])
        yield* elapse(400)
        const afterReset = yield* limiter.hit("reset", 1, 300)
        expect(afterReset).toMatchObject({ allowed: true, count: 1 })
      }))

    it.effect("a peek reads a window without counting and without opening one", () =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter.RateLimiter
        const unopened = yield* limiter.peek("peek", 2, 60_000)
        expect(unopened).toMatchObject({ count: 0, allowed: true, remaining: 2 })
        yield* elapse(50)
        // Nothing was opened: the first hit starts a full window.
        const [first, peeked, second] = yield* Effect.all([limiter.hit("peek", 2, 60_000), limiter.peek("peek", 2, 60_000), limiter.hit("peek", 2, 60_000)])
        expect([first?.count, peeked?.count, second?.count]).toEqual([1, 1, 2])
        expect(first.resetMs).toBeGreaterThan(59_000)
        expect(yield* limiter.peek("peek", 2, 60_000)).toMatchObject({ count: 2, remaining: 0 })
      }))

    it.effect("the cache never replaces a newer version with an older one", () =>
      Effect.gen(function*() {
        const cache = yield* Cache.VersionedCache
        const ttl = Duration.minutes(5)
        expect(yield* cache.get("profile")).toEqual(Option.none())
        yield* cache.put("profile", 2, "v2", ttl)
        yield* cache.put("profile", 1, "v1 (a slow reader)", ttl)
        expect(yield* cache.get("profile")).toEqual(Option.some("v2"))
        yield* cache.put("profile", 3, "v3", ttl)
        expect(yield* cache.get("profile")).toEqual(Option.some("v3"))
        yield* cache.remove("profile")
        expect(yield* cache.get("profile")).toEqual(Option.none())
        yield* cache.mark("revoked", ttl)
        expect([yield* cache.isMarked("revoked"), yield* cache.isMarked("other")]).toEqual([true, false])
      }))

    it.effect("cached values expire after their time to live", () =>
      Effect.gen(function*() {
        const cache = yield* Cache.VersionedCache
        yield* cache.put("short", 1, "x", Duration.millis(150))
        yield* cache.mark("short-mark", Duration.millis(150))
        yield* elapse(300)
        expect(yield* cache.get("short")).toEqual(Option.none())
        expect(yield* cache.isMarked("short-mark")).toBe(false)
      }))

    it.scoped("real-time messages reach every listener of a channel, and only it", () =>
      Effect.gen(function*() {
        const bus = yield* Realtime.RealtimeBus
        const first = yield* bus.subscribe("user-1")
        const second = yield* bus.subscribe("user-1")
        const other = yield* bus.subscribe("user-2")
        const firstTwo = yield* Effect.fork(Stream.runCollect(Stream.take(first, 2)))
        const secondTwo = yield* Effect.fork(Stream.runCollect(Stream.take(second, 2)))
        const otherOne = yield* Effect.fork(Stream.runCollect(Stream.take(other, 1)))
        yield* bus.publish("user-1", "a")
        yield* bus.publish("user-1", "b")
        yield* bus.publish("user-2", "c")
        expect(Chunk.toArray(yield* Fiber.join(firstTwo))).toEqual(["a", "b"])
        expect(Chunk.toArray(yield* Fiber.join(secondTwo))).toEqual(["a", "b"])
        expect(Chunk.toArray(yield* Fiber.join(otherOne))).toEqual(["c"])
      }), { timeout: 10_000 })

    it.scoped("listeners that join a channel together, or as its last one leaves, hear what is published once they have joined", () =>
      Effect.gen(function*() {
        const bus = yield* Realtime.RealtimeBus
        // Each listener, once `subscribe` has returned, publishes a message of its own and must hear it.
        const hearsOwn = (channel: string, own: string) =>
          Effect.gen(function*() {
            const stream = yield* bus.subscribe(channel)
            const heard = yield* Effect.fork(Stream.runHead(Stream.filter(stream, (message) => message === own)).pipe(
              Effect.timeout("3 seconds"),
              Effect.option,
              TestServices.provideLive
            ))
            yield* bus.publish(channel, own)
            return yield* Fiber.join(heard)
          })
        for (let round = 0; round < 5; round++) {
          const together = yield* Effect.all(Array.from({ length: 4 }, (_, i) => hearsOwn(`together-${round}`, `joined-${i}`)), { concurrency: "unbounded" })
          expect(together.map(Option.flatten)).toEqual([0, 1, 2, 3].map((i) => Option.some(`joined-${i}`)))
          const leaving = yield* Scope.make()
          yield* Scope.extend(bus.subscribe(`churn-${round}`), leaving)
          const [, joining] = yield* Effect.all([Scope.close(leaving, Exit.void), hearsOwn(`churn-${round}`, "back")], { concurrency: "unbounded" })
          expect(Option.flatten(joining)).toEqual(Option.some("back"))
        }
      }), { timeout: 30_000 })
  })

describe("Redis-backed capabilities", () => {
  contract("Redis", Layer.mergeAll(live.limiter, live.cache, live.realtime).pipe(Layer.provide(redisLayer())))
  contract("in memory", Layer.mergeAll(RateLimiter.layerMemory, Cache.layerMemory, Realtime.layerMemory))
})

/** The fixed-window model the limiter must agree with. */
const model = (hits: ReadonlyArray<{ readonly after: number }>, limit: number, windowMs: number) => {
  let start = -Infinity
  let count = 0
  let now = 0
  return hits.map(({ after }) => {
    now += after
    if (now >= start + windowMs) {
      start = now
      count = 0
    }
    count += 1
    return count <= limit
  })
}

describe("RateLimiter properties", () => {
  it.effect.prop(
    "admits exactly what the fixed-window model admits, for any timing of hits",
    {
      limit: fc.integer({ min: 1, max: 8 }),
      windowMs: fc.integer({ min: 10, max: 1_000 }),
      hits: fc.array(fc.record({ after: fc.integer({ min: 0, max: 400 }) }), { minLength: 1, maxLength: 60 })
    },
    ({ hits, limit, windowMs }) =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter.RateLimiter
        const key = uniqueName("prop")
        const admitted: Array<boolean> = []
        for (const { after } of hits) {
          yield* TestClock.adjust(Duration.millis(after))
          admitted.push((yield* limiter.hit(key, limit, windowMs)).allowed)
        }
        expect(admitted).toEqual(model(hits, limit, windowMs))
      }).pipe(Effect.provide(RateLimiter.layerMemory))
  )

  layer(live.limiter.pipe(Layer.provide(redisLayer())))("on Redis", (it) => {
    it.effect.prop(
      "N concurrent hits on a budget of B admit exactly min(N, B)",
      { n: fc.integer({ min: 1, max: 120 }), budget: fc.integer({ min: 1, max: 60 }) },
      ({ budget, n }) =>
        Effect.gen(function*() {
          const limiter = yield* RateLimiter.RateLimiter
          const key = uniqueName("concurrent")
          const decisions = yield* Effect.forEach(Array.from({ length: n }), () => limiter.hit(key, budget, 60_000), {
            concurrency: "unbounded"
          })
          expect(decisions.filter((d) => d.allowed)).toHaveLength(Math.min(n, budget))
        }),
      { fastCheck: { numRuns: 25 } }
    )
    it.effect.prop(
      "concurrent hits spread over several keys admit exactly min(N, B) per key, counting 1..N in order",
      { keys: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 200 }), budget: fc.integer({ min: 1, max: 30 }) },
      ({ budget, keys }) =>
        Effect.gen(function*() {
          const limiter = yield* RateLimiter.RateLimiter
          const prefix = uniqueName("spread")
          const decisions = yield* Effect.forEach(keys, (k) => limiter.hit(`${prefix}-${k}`, budget, 60_000), {
            concurrency: "unbounded"
          })
          for (const k of new Set(keys)) {
            const ofKey = decisions.filter((_, i) => keys[i] === k)
            expect(ofKey.map((d) => d.count)).toEqual(ofKey.map((_, i) => i + 1))
            expect(ofKey.filter((d) => d.allowed)).toHaveLength(Math.min(ofKey.length, budget))
          }
        }),
      { fastCheck: { numRuns: 25 } }
    )
  })

  it.live("when Redis stops answering, every waiting check fails as unavailable within the limiter's timeout", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(Effect.promise(() => startRedis()), (s) => Effect.promise(s.stop))
      const limiter = yield* RateLimiter.layerRedis({ timeout: "300 millis" }).pipe(
        Layer.provide(Redis.layer(redisConfig(server.url), { required: true })),
        Layer.build,
        Effect.map(Context.get(RateLimiter.RateLimiter))
      )
      expect((yield* limiter.hit("frozen", 10, 60_000)).count).toBe(1)
      server.pause()
      const started = Date.now()
      const outcomes = yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => `frozen-${i % 3}`), (key) =>
        Effect.flip(limiter.hit(key, 10, 60_000)), { concurrency: "unbounded" }).pipe(Effect.ensuring(Effect.sync(server.resume)))
      const waited = Date.now() - started
      expect(outcomes.map((error) => error._tag)).toEqual(Array.from({ length: 20 }, () => "DependencyUnavailable"))
      expect(waited).toBeGreaterThanOrEqual(250)
      expect(waited).toBeLessThan(2_000)
      // Once Redis answers again, checks are decided again (and the frozen ones may or may not have counted).
      yield* limiter.hit("after", 10, 60_000).pipe(Effect.retry({ times: 20, schedule: Schedule.spaced("100 millis") }))
    }).pipe(Effect.scoped), { timeout: 30_000 })
})

describe("Redis connection", () => {
  it.live("connects to a real server, answers its probe, and closes cleanly", () =>
    Effect.gen(function*() {
      const client = yield* Effect.scoped(
        Effect.gen(function*() {
          const redis = yield* Redis.connect(redisConfig(servers().redisUrl), { required: true })
          yield* redis.probe
          return redis.client
        })
      )
      const afterClose = yield* Effect.tryPromise(() => client.ping()).pipe(Effect.flip)
      expect(afterClose).toBeDefined()
    }))

  it.live("an unreachable server is retried, then reported as a typed error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(Redis.connect(redisConfig("redis://127.0.0.1:1", 2), { required: true })))
      expect(error._tag).toBe("RedisConnectionError")
      expect(error.message).toContain("127.0.0.1:1")
    }))

  it.live("when optional, it starts without the server and connects once the server appears", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(Effect.promise(() => startRedis()), (s) => Effect.promise(s.stop))
      yield* Effect.promise(server.stop)
      const redis = yield* Redis.connect(redisConfig(server.url, 1), { required: false })
      expect((yield* Effect.flip(redis.probe))._tag).toBe("DependencyUnavailable")
      yield* Effect.promise(server.restart)
      yield* redis.probe.pipe(Effect.retry({ times: 50, schedule: Schedule.spaced("100 millis") }))
    }).pipe(Effect.scoped), { timeout: 30_000 })
})


describe("Redis as shipped (infra/redis/redis.conf)", () => {
  it.live("under memory pressure a flood of limiter keys never evicts revocation markers or counters", () =>
    Effect.gen(function*() {
      const binary = findBinary("redis-server")
      if (binary === undefined) return yield* Effect.dieMessage("redis-server was not found on PATH")
      const dir = yield* Effect.acquireRelease(
        Effect.promise(() => mkdtemp(join(tmpdir(), "herald-redis-conf-"))),
        (path) => Effect.promise(() => rm(path, { recursive: true, force: true }))
      )
      const port = yield* Effect.promise(freePort)
      // The shipped file, then what a test run needs; later lines win, and the eviction policy is left as shipped.
      const shipped = readFileSync(new URL("../../../infra/redis/redis.conf", import.meta.url), "utf8")
      const conf = join(dir, "redis.conf")
      yield* Effect.promise(() =>
        writeFile(conf, `${shipped}\nport ${port}\nbind 127.0.0.1\ndir ${dir}\nappendonly no\nmaxmemory 3mb\n`))
      yield* Effect.acquireRelease(
        Effect.sync(() => spawn(binary, [conf], { stdio: "ignore" })),
        (child) => Effect.sync(() => child.kill("SIGKILL"))
      )
      yield* Effect.promise(() => waitForPort(port))
      const capabilities = yield* Layer.build(
        Layer.mergeAll(RateLimiter.layerRedis({ timeout: "2 seconds" }), Cache.layerRedis).pipe(
          Layer.provide(Redis.layer(redisConfig(`redis://127.0.0.1:${port}`), { required: true }))
        )
      )
      const limiter = Context.get(capabilities, RateLimiter.RateLimiter)
      const cache = Context.get(capabilities, Cache.VersionedCache)
      // A revoked family and a counter with short lives: the first to go under a TTL-based eviction policy.
      yield* Revocations.markRevoked(cache, "fam_revoked", Duration.minutes(1))
      yield* Effect.forEach([1, 2, 3], () => limiter.hit("auth-ip:192.0.2.1", 10, 60_000))
      // One limiter key per distinct email, with longer windows, far past maxmemory.
      const refused = yield* Effect.forEach(Array.from({ length: 60 }), (_, round) =>
        Effect.forEach(Array.from({ length: 500 }), (_, i) =>
          limiter.hit(`auth-email:flood-${round}-${i}-${"x".repeat(40)}@example.com`, 10, 30 * 60_000).pipe(
            Effect.match({ onFailure: () => 1, onSuccess: () => 0 })
          ), { concurrency: "unbounded" }).pipe(Effect.map((outcomes) => outcomes.reduce((a, b) => a + b, 0))))
      expect(yield* Revocations.isRevoked(cache, "fam_revoked")).toBe(true)
      expect((yield* limiter.peek("auth-ip:192.0.2.1", 10, 60_000)).count).toBe(3)
      // The flood was refused (writes fail loudly) rather than making room by forgetting state.
      expect(refused.reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
