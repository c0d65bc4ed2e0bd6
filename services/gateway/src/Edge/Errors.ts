import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpServerError from "@effect/platform/HttpServerError"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { HeraldApi } from "@herald/domain/Api"
import { Cause, Effect, Option } from "effect"
import { errorResponse, pathOf } from "./Response.ts"

/** A route outside the HttpApi (the OpenAPI document, the docs page). */
export interface ExtraRoute {
  readonly method: string
  readonly path: string
}

const toPattern = (path: string) =>
  new RegExp(`^${path.split("/").map((part) => (part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("/")}$`)

/** The methods each path answers to: the HttpApi's endpoints and the extra routes, one list. */
const methodTable = (extra: ReadonlyArray<ExtraRoute>) => {
  const routes = extra.map((route) => ({ method: route.method, pattern: toPattern(route.path) }))
  HttpApi.reflect(HeraldApi, {
    onGroup: () => undefined,
    onEndpoint: ({ endpoint }) => {
      routes.push({ method: endpoint.method, pattern: toPattern(endpoint.path) })
    }
  })
  /** Empty for unknown paths (404), otherwise the `Allow` of a 405. */
  return (path: string): ReadonlyArray<string> => {
    const methods = new Set(routes.filter((route) => route.pattern.test(path)).map((route) => route.method))
    if (methods.has("GET")) methods.add("HEAD")
    return [...methods]
  }
}

interface DecodeIssue {
  readonly path: ReadonlyArray<unknown>
  readonly message: string
}

const isDecodeErrorBody = (body: unknown): body is { readonly _tag: "HttpApiDecodeError"; readonly issues: ReadonlyArray<DecodeIssue> } =>
  typeof body === "object" && body !== null && "_tag" in body && body._tag === "HttpApiDecodeError" &&
  "issues" in body && Array.isArray(body.issues)

const decoder = new TextDecoder()

/**
 * HttpApi's own 400 (`HttpApiDecodeError`, which every HttpApi declares and encodes itself, with no hook to replace
 * it) in the shape of API.md.
 */
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
  return errorResponse(400, message, { issues }, Object.fromEntries(Object.entries(response.headers)))
}

/**
 * What the routes did not answer themselves, in API.md's shape: no route (404, or 405 with `Allow`), an unreadable
 * request (400), HttpApi's decode errors (400), and defects (500, logged with their cause).
 */
export const shapeErrors = (extra: ReadonlyArray<ExtraRoute>) => {
  const allowedMethods = methodTable(extra)
  return <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
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
              ? errorResponse(404, `no route for ${request.method} ${path}`)
              : errorResponse(405, `${request.method} is not allowed on ${path}`, { allow }, { allow: allow.join(", ") })
          }
          if (Option.isSome(failure) && failure.value instanceof HttpServerError.RequestError) {
            return errorResponse(400, "the request could not be read")
          }
          yield* Effect.logError("unhandled failure", cause)
          return errorResponse(500, "internal error")
        })
      )
    )
}

/** Outermost: a defect of the edge's own middlewares is still a 500 in API.md's shape, logged once. */
export const lastResort = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  app.pipe(
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.failCause(cause)
        : Effect.as(Effect.logError("edge failure", cause), errorResponse(500, "internal error"))
    )
  )
