import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { HeraldApi } from "@herald/domain/Api"
import { errorBody } from "@herald/domain/ApiError"
import { Authentication } from "@herald/domain/Auth"
import { IdempotencyKeyInFlight, IdempotencyKeyMismatch } from "@herald/domain/Errors"
import {
  Idempotent,
  IdempotencyKey,
  IdempotencyKeyInFlightBody,
  IdempotencyKeyMismatchBody,
  normaliseIdempotencyKey
} from "@herald/domain/Idempotency"
import { Idempotency, type Lease, type StoredResponse } from "@herald/infra/Idempotency"
import { TokenVerifier } from "@herald/infra/Jwt"
import { Clock, Context, Duration, Effect, Exit, Metric, Option, Schedule, Schema } from "effect"
import { createHash } from "node:crypto"
import { clientAddress, limitKey } from "./ClientIp.ts"
import { RateLimitConfig } from "./GatewayConfig.ts"

/**
 * `Idempotency-Key` on the endpoints the HttpApi marks `Idempotent` (API.md, "Idempotent creates"): a route
 * middleware, so it sees the route the router matched, after the edge's body guard and rate limit.
 */

/** How long a repeat is answered with the first response. */
const replayFor = Duration.hours(24)

/** How long a running request holds its key: past the 30 s RPC deadline of the (at most two) calls a create makes. */
const leaseFor = Duration.minutes(2)

const settleRetry = Schedule.exponential("50 millis").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(3)))

const replays = Metric.counter("herald_idempotent_replays_total", { description: "Responses replayed for a repeated Idempotency-Key" })
const unavailableCount = Metric.counter("herald_idempotency_unavailable_total", {
  description: "Requests with an Idempotency-Key refused with 503 because Redis did not answer"
})

/** `METHOD path` of every endpoint marked `Idempotent`, and whether its keys belong to the authenticated user. */
const idempotentRoutes: ReadonlyMap<string, { readonly perUser: boolean }> = (() => {
  const routes = new Map<string, { readonly perUser: boolean }>()
  HttpApi.reflect(HeraldApi, {
    onGroup: () => undefined,
    onEndpoint: ({ endpoint, middleware }) => {
      if (Option.isSome(Context.getOption(endpoint.annotations, Idempotent))) {
        routes.set(`${endpoint.method} ${endpoint.path}`, { perUser: [...middleware].some((tag) => tag.key === Authentication.key) })
      }
    }
  })
  return routes
})()

const isKey = Schema.is(IdempotencyKey)

const sha256 = (text: string) => createHash("sha256").update(text).digest("base64url")

/** A key as it is kept (hashed: it may be any client text), the same for every spelling of it; the tasks service gets it too. */
export const keyDigest = (header: string) => sha256(normaliseIdempotencyKey(header))

/** JSON with object keys sorted at every level: bodies that differ only in spacing or key order are the same. */
export const canonicalJson = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
  if (value !== null && typeof value === "object") {
    const fields = Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonicalJson(Reflect.get(value, key))}`)
    return `{${fields.join(",")}}`
  }
  return JSON.stringify(value) ?? "null"
}

/** The body as read by the edge's body guard (cached on the request), canonical when it is JSON. */
const canonicalBody = (request: HttpServerRequest.HttpServerRequest) =>
  request.json.pipe(
    Effect.map(canonicalJson),
    Effect.orElse(() => request.text),
    Effect.orElseSucceed(() => "")
  )

const bearer = /^Bearer\s+(\S+)\s*$/i

/** Statuses worth replaying: not 5xx (the client should retry), nor answers about the moment rather than the request. */
const replayable = (status: number) =>
  (status >= 200 && status < 300) || (status >= 400 && status < 500 && status !== 401 && status !== 409 && status !== 429)

const toStored = (response: HttpServerResponse.HttpServerResponse): Option.Option<StoredResponse> => {
  if (!replayable(response.status)) return Option.none()
  const location = response.headers["location"]
  const headers: Record<string, string> = location === undefined ? {} : { location }
  switch (response.body._tag) {
    case "Uint8Array":
      return Option.some({
        status: response.status,
        headers: { ...headers, "content-type": response.body.contentType },
        body: Buffer.from(response.body.body).toString("base64")
      })
    case "Empty":
      return Option.some({ status: response.status, headers, body: "" })
    default:
      return Option.none()
  }
}

const replay = (stored: StoredResponse) => {
  const { "content-type": contentType, ...rest } = stored.headers
  const headers = { ...rest, "idempotent-replayed": "true" }
  return contentType === undefined
    ? HttpServerResponse.empty({ status: stored.status, headers })
    : HttpServerResponse.uint8Array(Buffer.from(stored.body, "base64"), { status: stored.status, contentType, headers })
}

const mismatch = () =>
  HttpServerResponse.unsafeJson(
    Schema.encodeSync(IdempotencyKeyMismatchBody)(
      new IdempotencyKeyMismatch({ message: "this Idempotency-Key was used for a different request; use a new key" })
    ),
    { status: 422 }
  )

const inFlight = () =>
  HttpServerResponse.unsafeJson(
    Schema.encodeSync(IdempotencyKeyInFlightBody)(
      new IdempotencyKeyInFlight({ message: "the first request with this Idempotency-Key is still running; retry shortly" })
    ),
    { status: 409, headers: { "retry-after": "1" } }
  )

// Fail closed: a client sends a key because a second create would hurt; without the records only a 503 keeps that promise.
const unavailable = () =>
  HttpServerResponse.unsafeJson(
    errorBody(503, "cannot check the Idempotency-Key right now; retry with the same key", { dependency: "redis" }),
    { status: 503, headers: { "retry-after": "1" } }
  )

export const IdempotentCreates = HttpLayerRouter.middleware(
  Effect.gen(function*() {
    const records = yield* Idempotency
    const verifier = yield* TokenVerifier
    const { trustedProxyHops } = yield* RateLimitConfig
    const ttlMs = Duration.toMillis(replayFor)
    const leaseMs = Duration.toMillis(leaseFor)
    let lastWarning = Number.NEGATIVE_INFINITY

    /** Whose key it is: the token's user (none without a valid token: the route answers 401), or the address + path. */
    const scopeOf = (request: HttpServerRequest.HttpServerRequest, path: string, perUser: boolean) => {
      if (!perUser) {
        const address = clientAddress(Option.getOrUndefined(request.remoteAddress), request.headers["x-forwarded-for"], trustedProxyHops)
        return Effect.succeed(Option.some(`ip:${limitKey(address)}:${path}`))
      }
      const token = bearer.exec(request.headers.authorization ?? "")?.[1]
      return token === undefined
        ? Effect.succeedNone
        : verifier.verify(token).pipe(Effect.map((claims) => `user:${claims.userId}`), Effect.option)
    }

    /** Runs the request once it holds the key, to the end even if its client leaves, and records what to replay. */
    const runHolding = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>, key: string, lease: Lease) =>
      Effect.uninterruptible(
        Effect.gen(function*() {
          const exit = yield* Effect.exit(app)
          const stored = Exit.isSuccess(exit) ? toStored(exit.value) : Option.none()
          yield* (Option.isSome(stored) ? records.complete(key, lease, stored.value, ttlMs) : records.release(key, lease)).pipe(
            Effect.retry(settleRetry),
            Effect.catchAll((error) => Effect.logWarning("cannot record the outcome of an idempotent request", error))
          )
          return yield* exit
        })
      )

    return (app) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const { route } = yield* HttpLayerRouter.RouteContext
        const spec = idempotentRoutes.get(`${route.method} ${route.path}`)
        const header = request.headers["idempotency-key"]
        // A malformed key is left to the endpoint's header schema, which answers 400 before the handler runs.
        if (spec === undefined || header === undefined || !isKey(header)) return yield* app
        const scope = yield* scopeOf(request, route.path, spec.perUser)
        if (Option.isNone(scope)) return yield* app
        const key = `${scope.value}:${keyDigest(header)}`
        const fingerprint = sha256(`${route.method} ${route.path}\n${yield* canonicalBody(request)}`)
        const claim = yield* Effect.either(records.claim(key, fingerprint, leaseMs))
        if (claim._tag === "Left") {
          yield* Metric.increment(unavailableCount)
          const now = yield* Clock.currentTimeMillis
          if (now - lastWarning > 10_000) {
            lastWarning = now
            yield* Effect.logWarning(`idempotency records unavailable (${claim.left.message}); refusing keyed requests`)
          }
          return unavailable()
        }
        switch (claim.right._tag) {
          case "Acquired":
            return yield* runHolding(app, key, claim.right.lease)
          case "Completed":
            yield* Metric.increment(replays)
            return replay(claim.right.response)
          case "InFlight":
            return inFlight()
          case "Mismatch":
            return mismatch()
        }
      })
  })
)
