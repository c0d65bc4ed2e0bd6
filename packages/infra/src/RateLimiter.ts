import type { DependencyUnavailable } from "@herald/domain/Errors"
import { Clock, Context, type Duration, Effect, Exit, Layer, Runtime } from "effect"
import { command, Redis } from "./Redis.ts"
import { sweepMap } from "./Ttl.ts"

/**
 * Fixed windows opened by a key's first hit; each hit counted atomically (a Lua script on Redis), so N concurrent
 * hits on a budget of B admit exactly min(N, B). Rejected hits count too. `peek` reads a window without counting.
 */
export interface Decision {
  readonly allowed: boolean
  readonly limit: number
  /** Hits this window, this one included. */
  readonly count: number
  readonly remaining: number
  /** Milliseconds until the window resets. */
  readonly resetMs: number
}

export class RateLimiter extends Context.Tag("Herald/RateLimiter")<RateLimiter, {
  readonly hit: (key: string, limit: number, windowMs: number) => Effect.Effect<Decision, DependencyUnavailable>
  /** The window of `key` as it stands, this call not counted (count 0 when no window is open). */
  readonly peek: (key: string, limit: number, windowMs: number) => Effect.Effect<Decision, DependencyUnavailable>
}>() {}

export const decide = (count: number, limit: number, resetMs: number): Decision => ({
  allowed: count <= limit,
  limit,
  count,
  remaining: Math.max(0, limit - count),
  resetMs: Math.max(0, resetMs)
})

// For each key in turn: INCR, then start the window if this hit opened it (or if a key somehow lost its expiry);
// a peek (its window given as a negative number) only reads. One script call carries many checks (see
// `layerRedis`); a key named twice counts twice, in order.
const hitScript = `
local replies = {}
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[i])
  local count, ttl
  if window < 0 then
    count = tonumber(redis.call('GET', key) or '0')
    ttl = redis.call('PTTL', key)
    if ttl < 0 then ttl = -window end
  else
    count = redis.call('INCR', key)
    ttl = redis.call('PTTL', key)
    if ttl < 0 then
      redis.call('PEXPIRE', key, window)
      ttl = window
    end
  end
  replies[2 * i - 1] = count
  replies[2 * i] = ttl
end
return replies
`

const isReplyFor = (reply: unknown, checks: number): reply is ReadonlyArray<number> =>
  Array.isArray(reply) && reply.length === 2 * checks && reply.every((value) => typeof value === "number")

/** One check of a batch: its full Redis key, and its window (negative for a peek). */
export interface Check {
  readonly key: string
  readonly limit: number
  readonly windowMs: number
}

interface WaitingCheck extends Check {
  readonly resume: (outcome: Effect.Effect<Decision, DependencyUnavailable>) => void
}

/** Keys per script call: bounds the time one call holds Redis (about a microsecond per key). */
export const maxChecksPerCall = 500

/** Decides many checks in one script call, in order; `timeout` bounds the wait for Redis. */
export const evaluateChecks = (redis: Redis["Type"], timeout: Duration.DurationInput) =>
  Effect.gen(function*() {
    const sha = yield* command(() => redis.client.script("LOAD", hitScript)).pipe(
      Effect.map((loaded) => typeof loaded === "string" ? loaded : ""),
      Effect.orElseSucceed(() => "")
    )
    const evaluate = (keys: ReadonlyArray<string>, windows: ReadonlyArray<number>) =>
      redis.client.evalsha(sha, keys.length, ...keys, ...windows).catch((error: unknown) =>
        // After a restart the server has forgotten the script: send it whole, which also caches it again.
        error instanceof Error && error.message.includes("NOSCRIPT")
          ? redis.client.eval(hitScript, keys.length, ...keys, ...windows)
          : Promise.reject(error)
      )
    return (checks: ReadonlyArray<Check>): Effect.Effect<ReadonlyArray<Decision>, DependencyUnavailable> =>
      command(() => evaluate(checks.map((check) => check.key), checks.map((check) => check.windowMs)), timeout).pipe(
        Effect.flatMap((reply) =>
          isReplyFor(reply, checks.length)
            ? Effect.succeed(checks.map((check, i) => decide(reply[2 * i] ?? 0, check.limit, reply[2 * i + 1] ?? 0)))
            : Effect.dieMessage("unexpected rate-limit reply")
        )
      )
  })

/**
 * The limiter on Redis; `timeout` bounds a request's wait. The checks of one event-loop turn share one script call,
 * gathered by hand, not `RequestResolver`: ~40k against ~1.5k checks/s (bench/limiter-batching.ts).
 */
export const layerRedis = (options: { readonly timeout: Duration.DurationInput }) =>
  Layer.effect(
    RateLimiter,
    Effect.gen(function*() {
      const redis = yield* Redis
      const evaluate = yield* evaluateChecks(redis, options.timeout)
      const runFork = Runtime.runFork(yield* Effect.runtime<never>())
      const send = (batch: ReadonlyArray<WaitingCheck>) =>
        evaluate(batch).pipe(
          Effect.exit,
          Effect.map((exit) => batch.forEach((check, i) => check.resume(Exit.map(exit, (decisions) => decisions[i] ?? decide(0, check.limit, 0))))),
          runFork
        )
      let waiting: Array<WaitingCheck> = []
      const flush = () => {
        const batch = waiting
        waiting = []
        for (let start = 0; start < batch.length; start += maxChecksPerCall) send(batch.slice(start, start + maxChecksPerCall))
      }
      const check = (key: string, limit: number, windowMs: number) =>
        Effect.async<Decision, DependencyUnavailable>((resume) => {
          waiting.push({ key: `${redis.prefix}rl:${key}`, limit, windowMs, resume })
          if (waiting.length === 1) setImmediate(flush)
        })
      return RateLimiter.of({
        hit: (key, limit, windowMs) => check(key, limit, Math.max(1, windowMs)),
        peek: (key, limit, windowMs) => check(key, limit, -Math.max(1, windowMs))
      })
    })
  )

/** The limiter of the embedded default: the same windows in process memory, swept as they expire. */
export const layerMemory: Layer.Layer<RateLimiter> = Layer.scoped(
  RateLimiter,
  Effect.gen(function*() {
    const windows = new Map<string, { count: number; resetAt: number }>()
    yield* sweepMap(windows, (window, now) => window.resetAt <= now)
    return RateLimiter.of({
      hit: (key, limit, windowMs) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const current = windows.get(key)
          const window = current === undefined || current.resetAt <= now ? { count: 0, resetAt: now + windowMs } : current
          window.count += 1
          windows.set(key, window)
          return decide(window.count, limit, window.resetAt - now)
        }),
      peek: (key, limit, windowMs) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const current = windows.get(key)
          return current === undefined || current.resetAt <= now
            ? decide(0, limit, windowMs)
            : decide(current.count, limit, current.resetAt - now)
        })
    })
  })
)
