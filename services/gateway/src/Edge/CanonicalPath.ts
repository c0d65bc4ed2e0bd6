import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import { errorResponse, pathOf } from "./Response.ts"

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
    return isCanonicalPath(path) ? app : Effect.succeed(errorResponse(404, `no route for ${request.method} ${path}`))
  })
