import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"

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
