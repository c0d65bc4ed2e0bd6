import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { errorBody } from "@herald/domain/ApiError"
import { HeraldApi } from "@herald/domain/Api"
import { Cause, Clock, Config, Effect, Option } from "effect"

/**
 * What every request passes through before and after the API routes: request id, security headers, the access
 * log, the body guard, and the translation of whatever went wrong into the one error shape of API.md.
 */

export const EdgeConfig = Config.all({
  maxBodyBytes: Config.integer("MAX_BODY_BYTES").pipe(Config.withDefault(1024 * 1024)),
  corsOrigins: Config.array(Config.string(), "CORS_ORIGINS").pipe(Config.withDefault([]))
})
export type EdgeConfig = Config.Config.Success<typeof EdgeConfig>

const json = (status: number, message: string, details?: unknown, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(errorBody(status, message, details), { status, headers })

/** The path of a request URL, without its query string. */
export const pathOf = (url: string) => {
  const query = url.indexOf("?")
  return query === -1 ? url : url.slice(0, query)
}

// --- one spelling per path -------------------------------------------------------------------------------------

/** The router's options: paths match case-sensitively, with no slash merged or trimmed (see `canonicalPaths`). */
export const routerConfig = { caseSensitive: true, ignoreTrailingSlash: false, ignoreDuplicateSlashes: false }

const unreserved = /^[A-Za-z0-9\-._~]$/

/**
 * Whether a request path is written the one way the router matches it: origin-form, no empty, `.` or `..` segment,
 * no trailing slash, no `;` or `#` (which the router cuts off), no percent-encoded unreserved character (which it
 * decodes). Every path-based rule compares this spelling, so another spelling must not reach a route.
 */
export const isCanonicalPath = (path: string): boolean => {
  if (!path.startsWith("/") || path.includes(";") || path.includes("#")) return false
  if (path === "/") return true
  const segments = path.slice(1).split("/")
  if (segments.some((segment) => segment === "" || segment === "." || segment === "..")) return false
  for (let i = path.indexOf("%"); i !== -1; i = path.indexOf("%", i + 1)) {
    const hex = path.slice(i + 1, i + 3)
    if (!/^[0-9A-Fa-f]{2}$/.test(hex) || unreserved.test(String.fromCharCode(parseInt(hex, 16)))) return false
  }
  return true
}

/** Answers 404 to any other spelling of a path (`/API/x`, `//x`, `/x/`, `/x;y`, `/%78`) before anything else runs. */
export const canonicalPaths = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const path = pathOf(request.url)
    return isCanonicalPath(path) ? app : Effect.succeed(json(404, `no route for ${request.method} ${path}`))
  })

// --- request id -------------------------------------------------------------------------------------------------

const saneRequestId = /^[A-Za-z0-9._:-]{1,128}$/

/** `X-Request-Id`: the client's when it is sane, a fresh UUID otherwise; on the response and on every log line. */
export const requestId = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const given = request.headers["x-request-id"]
    const id = given !== undefined && saneRequestId.test(given) ? given : crypto.randomUUID()
    return app.pipe(
      Effect.map((response) => HttpServerResponse.setHeader(response, "x-request-id", id)),
      Effect.annotateLogs("requestId", id)
    )
  })

// --- security headers and access log ----------------------------------------------------------------------------

const securityHeaders = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store"
}

export const hardenAndLog = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const started = yield* Clock.currentTimeMillis
    const response = yield* app
    const withHeaders = HttpServerResponse.setHeaders(response, securityHeaders)
    const final = response.status === 401 && response.headers["www-authenticate"] === undefined
      ? HttpServerResponse.setHeader(
        withHeaders,
        "www-authenticate",
        request.headers.authorization === undefined ? `Bearer realm="herald"` : `Bearer realm="herald", error="invalid_token"`
      )
      : withHeaders
    const durationMs = (yield* Clock.currentTimeMillis) - started
    // The path only: query strings may carry an access token (the WebSocket stream's `access_token`).
    yield* Effect.logInfo("http").pipe(
      Effect.annotateLogs({ method: request.method, path: pathOf(request.url), status: final.status, durationMs })
    )
    return final
  })

// --- body guard -------------------------------------------------------------------------------------------------

const isJsonType = (contentType: string) => {
  const mediaType = contentType.split(";")[0]?.trim().toLowerCase() ?? ""
  return mediaType === "application/json" || (mediaType.startsWith("application/") && mediaType.endsWith("+json"))
}

/** Herald's requests nest three levels at most; deeper JSON is refused before any decoder walks it recursively. */
const maxJsonDepth = 32

/** The deepest nesting of arrays and objects in JSON text (outside strings), in one pass. */
export const jsonDepth = (text: string): number => {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i)
    if (inString) {
      if (char === 92) i++ // backslash: skip the escaped character
      else if (char === 34) inString = false
    } else if (char === 34) {
      inString = true
    } else if (char === 91 || char === 123) {
      depth++
      if (depth > deepest) deepest = depth
    } else if (char === 93 || char === 125) {
      depth--
    }
  }
  return deepest
}

/**
 * Request bodies: at most `maxBodyBytes` (413), JSON only (415), well-formed and not absurdly nested
 * (400). The body is read once here, within the limit; the API routes reuse what was read. (A chunked body that
 * overflows is cut off mid-upload: the connection is reset, as nothing else stops an endless upload.)
 */
export const bodyGuard = (config: EdgeConfig) =>
<E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const length = request.headers["content-length"]
    const hasBody = (length !== undefined && length !== "0") || request.headers["transfer-encoding"] !== undefined
    if (!hasBody || request.method === "GET" || request.method === "HEAD") return yield* app
    const tooLarge = () => json(413, `request body larger than ${config.maxBodyBytes} bytes`, { limit: config.maxBodyBytes })
    if (length !== undefined && Number(length) > config.maxBodyBytes) return tooLarge()
    const contentType = request.headers["content-type"]
    // Every route that takes a body takes JSON, so this holds for any path: no spelling of a path can skip it.
    if (contentType === undefined || !isJsonType(contentType)) {
      return json(415, "request bodies must be JSON: send Content-Type: application/json", {
        contentType: contentType ?? null
      })
    }
    const read = yield* request.text.pipe(
      HttpIncomingMessage.withMaxBodySize(Option.some(FileSystem.Size(config.maxBodyBytes))),
      Effect.either
    )
    if (read._tag === "Left") return tooLarge()
    if (jsonDepth(read.right) > maxJsonDepth) return json(400, `request body is nested more than ${maxJsonDepth} levels deep`)
    const parsed = yield* request.json.pipe(Effect.either)
    if (parsed._tag === "Left") return json(400, "request body is not valid JSON")
    return yield* app
  })

// --- errors -----------------------------------------------------------------------------------------------------

interface RouteShape {
  readonly method: string
  readonly pattern: RegExp
}

const toPattern = (path: string) =>
  new RegExp(`^${path.split("/").map((part) => (part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("/")}$`)

const routes: ReadonlyArray<RouteShape> = (() => {
  const all: Array<RouteShape> = [
    { method: "GET", pattern: toPattern("/docs") },
    { method: "GET", pattern: toPattern("/openapi.json") }
  ]
  HttpApi.reflect(HeraldApi, {
    onGroup: () => undefined,
    onEndpoint: ({ endpoint }) => {
      all.push({ method: endpoint.method, pattern: toPattern(endpoint.path) })
    }
  })
  return all
})()

/** The methods a path answers to: empty for unknown paths (404), otherwise the `Allow` of a 405. */
export const allowedMethods = (path: string): ReadonlyArray<string> => {
  const methods = new Set(routes.filter((route) => route.pattern.test(path)).map((route) => route.method))
  if (methods.has("GET")) methods.add("HEAD")
  return [...methods]
}

interface DecodeIssue {
  readonly path: ReadonlyArray<unknown>
  readonly message: string
}

const isDecodeErrorBody = (body: unknown): body is { readonly _tag: "HttpApiDecodeError"; readonly issues: ReadonlyArray<DecodeIssue> } =>
  typeof body === "object" && body !== null && "_tag" in body && body._tag === "HttpApiDecodeError" &&
  "issues" in body && Array.isArray(body.issues)

const decoder = new TextDecoder()

/** HttpApi's own 400 body (`HttpApiDecodeError`) in the shape of API.md. */
const reshapeDecodeError = (response: HttpServerResponse.HttpServerResponse) => {
  if (response.status !== 400 || response.body._tag !== "Uint8Array") return response
  let body: unknown
  try {
    body = JSON.parse(decoder.decode(response.body.body))
  } catch {
    return response
  }
  if (!isDecodeErrorBody(body)) return response
  const issues = body.issues.map((issue) => ({
    path: issue.path.map(String).join("."),
    message: issue.message
  }))
  const first = issues[0]
  const message = first === undefined ? "invalid request" : first.path === "" ? first.message : `${first.path}: ${first.message}`
  return json(400, message, { issues }, Object.fromEntries(Object.entries(response.headers)))
}

/** Any failure that escaped the routes becomes a response in the API.md shape; defects are logged with their cause. */
export const shapeErrors = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  app.pipe(
    Effect.map(reshapeDecodeError),
    Effect.catchAllCause((cause) =>
      Effect.gen(function*() {
        if (Cause.isInterruptedOnly(cause)) return yield* Effect.failCause(cause)
        const failure = Cause.failureOption(cause)
        if (Option.isSome(failure) && failure.value instanceof HttpServerError.RouteNotFound) {
          const request = failure.value.request
          const path = pathOf(request.url)
          const allow = allowedMethods(path)
          return allow.length === 0
            ? json(404, `no route for ${request.method} ${path}`)
            : json(405, `${request.method} is not allowed on ${path}`, { allow }, { allow: allow.join(", ") })
        }
        if (Option.isSome(failure) && failure.value instanceof HttpServerError.RequestError) {
          return json(400, "the request could not be read")
        }
        yield* Effect.logError("unhandled failure", cause)
        return json(500, "internal error")
      })
    )
  )

/** CORS for the configured origins (none by default: same-origin behind Nginx). */
export const cors = (config: EdgeConfig) =>
  config.corsOrigins.length === 0
    ? <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) => app
    : HttpMiddleware.cors({
      allowedOrigins: config.corsOrigins,
      allowedHeaders: ["authorization", "content-type", "idempotency-key", "if-match", "x-request-id"],
      exposedHeaders: [
        "idempotent-replayed", "location", "ratelimit", "ratelimit-policy", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset",
        "retry-after", "x-request-id"
      ],
      maxAge: 600
    })
