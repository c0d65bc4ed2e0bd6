import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { errorBody } from "@herald/domain/ApiError"
import { RateLimiter, type Decision } from "@herald/infra/RateLimiter"
import { Clock, Config, Duration, Effect, Metric, Option } from "effect"
import { clientAddress, limitKey } from "./ClientIp.ts"
import { pathOf } from "./Edge.ts"

export const RateLimitConfig = Config.all({
  max: Config.integer("RATE_LIMIT_MAX").pipe(Config.withDefault(100)),
  window: Config.duration("RATE_LIMIT_WINDOW").pipe(Config.withDefault(Duration.minutes(12))),
  authMax: Config.integer("AUTH_RATE_LIMIT_MAX").pipe(Config.withDefault(10)),
  authWindow: Config.duration("AUTH_RATE_LIMIT_WINDOW").pipe(Config.withDefault(Duration.minutes(15))),
  failMode: Config.literal("open", "closed")("RATE_LIMIT_FAIL_MODE").pipe(Config.withDefault("open")),
  trustedProxyHops: Config.integer("TRUSTED_PROXY_HOPS").pipe(Config.withDefault(0))
})
export type RateLimitConfig = Config.Config.Success<typeof RateLimitConfig>

interface Policy {
  readonly name: string
  readonly limit: number
  readonly windowSeconds: number
}

const unlimited = new Set(["/health", "/ready"])
const authRoutes = new Set(["/api/users/login", "/api/users/register"])

const failOpen = Metric.counter("herald_rate_limit_fail_open_total", {
  description: "Requests served without a rate-limit decision because Redis did not answer"
})
const rejected = Metric.counter("herald_rate_limit_rejected_total", { description: "Requests refused with 429" })

/** The email of a login or registration body (already read and cached by the body guard), normalised. */
const emailOf = (request: HttpServerRequest.HttpServerRequest) =>
  request.json.pipe(
    Effect.map((body) =>
      typeof body === "object" && body !== null && "email" in body && typeof body.email === "string"
        ? Option.some(body.email.trim().toLowerCase().slice(0, 320))
        : Option.none()
    ),
    Effect.orElseSucceed(() => Option.none<string>())
  )

/** Structured-field string of a policy name (RFC 8941 sf-string). */
const policyItem = (policy: Policy) => `"${policy.name}";q=${policy.limit};w=${policy.windowSeconds}`

const tighter = (a: readonly [Policy, Decision], b: readonly [Policy, Decision]) =>
  b[1].remaining < a[1].remaining || (b[1].remaining === a[1].remaining && b[1].resetMs > a[1].resetMs) ? b : a

const headersFor = (policies: ReadonlyArray<Policy>, decisions: ReadonlyArray<readonly [Policy, Decision]>) => {
  // A policy checked under several keys (the auth policy: per address and per email) reports its tightest key;
  // the legacy single-value headers describe the policy closest to refusing.
  const perPolicy = policies.flatMap((policy) => {
    const own = decisions.filter(([p]) => p === policy)
    return own.length === 0 ? [] : [own.reduce(tighter)]
  })
  const tightest = perPolicy.reduce(tighter)
  const seconds = (decision: Decision) => Math.ceil(decision.resetMs / 1000)
  return {
    "ratelimit-policy": policies.map(policyItem).join(", "),
    ratelimit: perPolicy.map(([policy, d]) => `"${policy.name}";r=${d.remaining};t=${seconds(d)}`).join(", "),
    "ratelimit-limit": String(tightest[1].limit),
    "ratelimit-remaining": String(tightest[1].remaining),
    "ratelimit-reset": String(seconds(tightest[1]))
  }
}

/**
 * Fixed-window limits per client address (and, on login and registration, a stricter one per address and per
 * email), one atomic count per policy (checks made at the same time share one Redis call, see `RateLimiter`).
 * When Redis does not answer in time the request is served without a decision (fail-open, logged and counted)
 * unless `RATE_LIMIT_FAIL_MODE=closed`.
 */
export const makeRateLimit = Effect.gen(function*() {
  const config = yield* RateLimitConfig
  const limiter = yield* RateLimiter
  const standard: Policy = { name: "default", limit: config.max, windowSeconds: Math.round(Duration.toSeconds(config.window)) }
  const strict: Policy = { name: "auth", limit: config.authMax, windowSeconds: Math.round(Duration.toSeconds(config.authWindow)) }
  let lastWarning = Number.NEGATIVE_INFINITY

  return <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const path = pathOf(request.url)
      if (unlimited.has(path)) return yield* app
      const client = limitKey(
        clientAddress(Option.getOrUndefined(request.remoteAddress), request.headers["x-forwarded-for"], config.trustedProxyHops)
      )
      const isAuth = request.method === "POST" && authRoutes.has(path)
      const email = isAuth ? yield* emailOf(request) : Option.none<string>()
      const checks: Array<readonly [Policy, string]> = [[standard, `default:${client}`]]
      if (isAuth) {
        checks.push([strict, `auth-ip:${client}`])
        if (Option.isSome(email)) checks.push([strict, `auth-email:${email.value}`])
      }
      const outcome = yield* Effect.forEach(checks, ([policy, key]) =>
        Effect.map(limiter.hit(key, policy.limit, policy.windowSeconds * 1000), (decision) => [policy, decision] as const), {
        // One check (the common case) runs on this fiber; only the auth routes' several checks fork.
        concurrency: checks.length === 1 ? 1 : "unbounded"
      }).pipe(Effect.either)
      if (outcome._tag === "Left") {
        yield* Metric.increment(failOpen)
        const now = yield* Clock.currentTimeMillis
        if (now - lastWarning > 10_000) {
          lastWarning = now
          yield* Effect.logWarning(`rate limiter unavailable (${outcome.left.message}); failing ${config.failMode}`)
        }
        if (config.failMode === "closed") {
          return HttpServerResponse.unsafeJson(errorBody(503, "rate limiter unavailable", { dependency: "redis" }), {
            status: 503,
            headers: { "retry-after": "1" }
          })
        }
        return yield* app
      }
      const decisions = outcome.right
      const policies = isAuth ? [standard, strict] : [standard]
      const headers = headersFor(policies, decisions)
      const refused = decisions.filter(([, decision]) => !decision.allowed)
      if (refused.length > 0) {
        yield* Metric.increment(rejected)
        const retryAfter = Math.max(1, ...refused.map(([, d]) => Math.ceil(d.resetMs / 1000)))
        const policy = refused[0]?.[0].name ?? "default"
        return HttpServerResponse.unsafeJson(
          errorBody(429, "too many requests; slow down", { retryAfter, policy }),
          { status: 429, headers: { ...headers, "retry-after": String(retryAfter) } }
        )
      }
      const response = yield* app
      return HttpServerResponse.setHeaders(response, headers)
    })
})
