import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { errorBody } from "@herald/domain/ApiError"
import { RateLimiter, type Decision } from "@herald/infra/RateLimiter"
import { Clock, Duration, Effect, Metric, Option } from "effect"
import { clientAddress, limitKey } from "./ClientIp.ts"
import { pathOf } from "./Edge/Response.ts"
import { RateLimitConfig } from "./GatewayConfig.ts"


interface Policy {
  readonly name: string
  readonly limit: number
  readonly windowSeconds: number
}

const unlimited = new Set(["/health", "/ready"])
const authRoutes = new Set(["/api/users/login", "/api/users/register"])

/**
 * On an email that had the auth policy's budget of failures in a window, an address may still fail this many times
 * before it is refused: the owner mistyping twice still gets in, an attacker's address gets three guesses.
 */
const failuresPerAddressOnLockedEmail = 3

/** A login or registration the handler refused (wrong password, email taken, bad input); not a 429 of ours. */
const isFailure = (status: number) => status >= 400 && status < 500 && status !== 429

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
 * Fixed-window limits per client address, stricter on login and registration, fail-open unless configured closed;
 * per email only failures count, so nobody can lock a known account out (services/gateway/README.md).
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
      const checks: Array<readonly [Policy, string]> = [[standard, `default:${client}`]]
      if (isAuth) checks.push([strict, `auth-ip:${client}`])
      const windowMs = (policy: Policy) => policy.windowSeconds * 1000
      const counted = Effect.forEach(checks, ([policy, key]) =>
        Effect.map(limiter.hit(key, policy.limit, windowMs(policy)), (decision) => [policy, decision] as const), {
        // One check (the common case) runs on this fiber; only the auth routes' several checks fork.
        concurrency: checks.length === 1 ? 1 : "unbounded"
      })
      const email = isAuth ? yield* emailOf(request) : Option.none<string>()
      const failureKeys = Option.map(email, (address) => ({
        email: `auth-email:${address}`,
        pair: `auth-email-ip:${client}:${address}`
      }))
      // The email's failures are only read, and only for an address the counts above admitted.
      const outcome = yield* counted.pipe(
        Effect.flatMap((decisions) =>
          Option.isNone(failureKeys) || decisions.some(([, decision]) => !decision.allowed)
            ? Effect.succeed({ decisions, ofEmail: Option.none<readonly [Policy, Decision]>(), locked: false })
            : Effect.all([
              limiter.peek(failureKeys.value.email, strict.limit, windowMs(strict)),
              limiter.peek(failureKeys.value.pair, failuresPerAddressOnLockedEmail, windowMs(strict))
            ], { concurrency: "unbounded" }).pipe(
              Effect.map(([ofEmail, ofPair]) => ({
                decisions,
                ofEmail: Option.some([strict, ofEmail] as const),
                locked: ofEmail.count >= strict.limit && ofPair.count >= failuresPerAddressOnLockedEmail
              }))
            )
        ),
        Effect.either
      )
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
      const { decisions, locked, ofEmail } = outcome.right
      const policies = isAuth ? [standard, strict] : [standard]
      const headers = headersFor(policies, Option.match(ofEmail, { onNone: () => decisions, onSome: (d) => [...decisions, d] }))
      const refused = locked ? Option.toArray(ofEmail) : decisions.filter(([, decision]) => !decision.allowed)
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
      if (Option.isSome(failureKeys) && isFailure(response.status)) {
        const { email: emailKey, pair } = failureKeys.value
        yield* Effect.all([limiter.hit(emailKey, strict.limit, windowMs(strict)), limiter.hit(pair, failuresPerAddressOnLockedEmail, windowMs(strict))], {
          concurrency: "unbounded"
        }).pipe(Effect.catchAll((error) => Effect.logWarning(`cannot count a failed ${path} (${error.message})`)))
      }
      return HttpServerResponse.setHeaders(response, headers)
    })
})
