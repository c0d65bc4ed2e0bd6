/**
 * `tsx bench/limiter-batching.ts`: the limiter's own batching against Effect's `RequestResolver` batching, same
 * script, only the gathering differs (setup and results in bench/README.md). `BENCH_SECONDS` (3), `LANES` (50).
 */
import { dataLoader } from "@effect/experimental/RequestResolver"
import { startRedis } from "@herald/testing/RedisServer"
import type { DependencyUnavailable } from "@herald/domain/Errors"
import { Effect, Layer, Redacted, Request, RequestResolver } from "effect"
import * as RateLimiter from "@herald/infra/RateLimiter"
import * as Redis from "@herald/infra/Redis"
import { callsPerSecond, round } from "./support.ts"

const seconds = Number(process.env.BENCH_SECONDS ?? 3)
const lanes = Number(process.env.LANES ?? 50)

class Hit extends Request.TaggedClass("Hit")<RateLimiter.Decision, DependencyUnavailable, RateLimiter.Check & { readonly n: number }> {}

/** The same limiter with `RequestResolver` batching in place of Herald's own. */
const resolverLimiter = Layer.scoped(
  RateLimiter.RateLimiter,
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const evaluate = yield* RateLimiter.evaluateChecks(redis, "1 second")
    const batched = RequestResolver.makeBatched((hits: ReadonlyArray<Hit>) =>
      evaluate(hits).pipe(
        Effect.flatMap((decisions) => Effect.forEach(hits, (hit, i) => Request.completeEffect(hit, Effect.succeed(decisions[i] ?? RateLimiter.decide(0, hit.limit, 0))))),
        Effect.catchAll((error) => Effect.forEach(hits, (hit) => Request.fail(hit, error)))
      )
    )
    const resolver = yield* dataLoader(batched, { window: 0, maxBatchSize: RateLimiter.maxChecksPerCall })
    let n = 0
    const check = (key: string, limit: number, windowMs: number) => Effect.request(new Hit({ key: `${redis.prefix}rl:${key}`, limit, windowMs, n: n++ }), resolver)
    return RateLimiter.RateLimiter.of({
      hit: (key, limit, windowMs) => check(key, limit, Math.max(1, windowMs)),
      peek: (key, limit, windowMs) => check(key, limit, -Math.max(1, windowMs))
    })
  })
)

const measure = (name: string, limiterLayer: Layer.Layer<RateLimiter.RateLimiter, never, Redis.Redis>, url: string) =>
  Effect.gen(function*() {
    const limiter = yield* RateLimiter.RateLimiter
    const run = (durationSeconds: number) => callsPerSecond((i) => limiter.hit(`bench-${i}`, 1_000_000_000, 600_000), lanes, durationSeconds)
    yield* run(1)
    const result = yield* run(seconds)
    console.log(`${name}: ${round(result.perSecond)} checks/s, ${round(result.cpuMicrosPerCall, 1)} µs CPU per check`)
  }).pipe(
    Effect.provide(limiterLayer.pipe(Layer.provide(Redis.layer({ url: Redacted.make(url), prefix: "bench:", connectRetries: 3 }, { required: true })))),
    Effect.scoped
  )

const given = process.env.REDIS_URL
const server = given === undefined ? await startRedis() : undefined
const url = given ?? server?.url ?? ""
try {
  console.log(`${lanes} concurrent lanes, ${seconds} s each`)
  await Effect.runPromise(measure("Herald's batching (one event-loop turn)", RateLimiter.layerRedis({ timeout: "1 second" }), url))
  await Effect.runPromise(measure("RequestResolver + dataLoader (window 0)", resolverLimiter, url))
} finally {
  await server?.stop()
}
