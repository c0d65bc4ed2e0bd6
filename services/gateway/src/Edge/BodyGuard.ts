import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Option } from "effect"
import { errorResponse } from "./Response.ts"

const mediaTypeOf = (contentType: string) => contentType.split(";")[0]?.trim().toLowerCase() ?? ""

// Only `application/json` itself: HttpApi reads other types (`+json` ones too) from the stream again, once this guard
// (or the login limiter) has read it, and the request never gets an answer; an empty multipart body is a defect.
const isJsonType = (contentType: string) => mediaTypeOf(contentType) === "application/json"

/** Without a body, the types HttpApi reads from the text it caches (as it does JSON) are harmless. */
const readsAsText = (contentType: string) => {
  const mediaType = mediaTypeOf(contentType)
  return mediaType === "application/json" || mediaType === "application/x-www-form-urlencoded" || mediaType.startsWith("text/")
}

/** Herald's requests nest three levels at most; deeper JSON is refused before any decoder walks it recursively. */
const maxJsonDepth = 32

/** The deepest nesting of arrays and objects in JSON text (outside strings), in one pass without recursion. */
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
export const bodyGuard = (config: { readonly maxBodyBytes: number }) =>
<E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const length = request.headers["content-length"]
    const hasBody = (length !== undefined && length !== "0") || request.headers["transfer-encoding"] !== undefined
    if (request.method === "GET" || request.method === "HEAD") return yield* app
    const contentType = request.headers["content-type"]
    const notJson = () =>
      errorResponse(415, "request bodies must be JSON: send Content-Type: application/json", { contentType: contentType ?? null })
    if (!hasBody) return contentType === undefined || readsAsText(contentType) ? yield* app : notJson()
    const tooLarge = () => errorResponse(413, `request body larger than ${config.maxBodyBytes} bytes`, { limit: config.maxBodyBytes })
    if (length !== undefined && Number(length) > config.maxBodyBytes) return tooLarge()
    // Every path: the gateway takes no other bodies, and a route reached by another spelling reads them the same way.
    if (contentType === undefined || !isJsonType(contentType)) return notJson()
    const read = yield* request.text.pipe(
      HttpIncomingMessage.withMaxBodySize(Option.some(FileSystem.Size(config.maxBodyBytes))),
      Effect.either
    )
    if (read._tag === "Left") return tooLarge()
    if (jsonDepth(read.right) > maxJsonDepth) return errorResponse(400, `request body is nested more than ${maxJsonDepth} levels deep`)
    const parsed = yield* request.json.pipe(Effect.either)
    if (parsed._tag === "Left") return errorResponse(400, "request body is not valid JSON")
    return yield* app
  })
