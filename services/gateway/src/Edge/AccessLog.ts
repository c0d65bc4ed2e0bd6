import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Clock, Effect } from "effect"
import { pathOf } from "./Response.ts"

const securityHeaders = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store"
}

/** Security headers on every response (and `WWW-Authenticate` on a 401), and one access-log line per request. */
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
