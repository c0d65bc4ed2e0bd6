import type { DependencyUnavailable } from "@herald/domain/Errors"
import { Clock, Context, Duration, Effect, Layer, Schedule } from "effect"
import { command, Redis } from "./Redis.ts"

/**
 * Fixed-window counters: each key has a window that starts with its first hit and lasts `windowMs`. One atomic
 * step per hit (a Lua script on Redis), so N concurrent hits on a budget of B admit exactly min(N, B), however many
 * gateways share the server. Rejected hits count too; they do not extend the window.
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
}>() {}

export const decide = (count: number, limit: number, resetMs: number): Decision => ({
  allowed: count <= limit,
  limit,
  count,
  remaining: Math.max(0, limit - count),
  resetMs: Math.max(0, resetMs)
})

// INCR, then start the window if this hit opened it (or if a key somehow lost its expiry).
const hitScript = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`

const isPair = (value: unknown): value is [number, number] =>
  Array.isArray(value) && value.length === 2 && typeof value[0] === "number" && typeof value[1] === "number"

/** The limiter on Redis, shared by every gateway; `timeout` bounds how long a request may wait for it. */
export const layerRedis = (options: { readonly timeout: Duration.DurationInput }) =>
  Layer.effect(
    RateLimiter,
    Effect.gen(function*() {
      const redis = yield* Redis
      const sha = yield* command(() => redis.client.script("LOAD", hitScript)).pipe(
        Effect.map((loaded) => typeof loaded === "string" ? loaded : ""),
        Effect.orElseSucceed(() => "")
      )
      const evaluate = (key: string, windowMs: number) =>
        redis.client.evalsha(sha, 1, key, windowMs).catch((error: unknown) =>
          // After a restart the server has forgotten the script: send it whole, which also caches it again.
          error instanceof Error && error.message.includes("NOSCRIPT")
            ? redis.client.eval(hitScript, 1, key, windowMs)
            : Promise.reject(error)
        )
      return RateLimiter.of({
        hit: (key, limit, windowMs) =>
          command(() => evaluate(`${redis.prefix}rl:${key}`, windowMs), options.timeout).pipe(
            Effect.flatMap((reply) =>
              isPair(reply) ? Effect.succeed(decide(reply[0], limit, reply[1])) : Effect.dieMessage("unexpected rate-limit reply")
            )
          )
      })
    })
  )

/** The limiter of the embedded default: the same windows in process memory, swept as they expire. */
export const layerMemory: Layer.Layer<RateLimiter> = Layer.scoped(
  RateLimiter,
  Effect.gen(function*() {
    const windows = new Map<string, { count: number; resetAt: number }>()
    yield* Clock.currentTimeMillis.pipe(
      Effect.map((now) => {
        for (const [key, window] of windows) if (window.resetAt <= now) windows.delete(key)
      }),
      Effect.repeat(Schedule.spaced(Duration.minutes(1))),
      Effect.forkScoped
    )
    return RateLimiter.of({
      hit: (key, limit, windowMs) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const current = windows.get(key)
          const window = current === undefined || current.resetAt <= now ? { count: 0, resetAt: now + windowMs } : current
          window.count += 1
          windows.set(key, window)
          return decide(window.count, limit, window.resetAt - now)
        })
    })
  })
)
