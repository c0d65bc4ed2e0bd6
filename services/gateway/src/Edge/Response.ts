import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { errorBody } from "@herald/domain/ApiError"

/** A response in API.md's error shape. */
export const errorResponse = (status: number, message: string, details?: unknown, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(errorBody(status, message, details), { status, headers })

/** The path of a request URL, without its query string. */
export const pathOf = (url: string) => {
  const query = url.indexOf("?")
  return query === -1 ? url : url.slice(0, query)
}
