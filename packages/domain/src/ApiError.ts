import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Schema, type SchemaAST } from "effect"

/** The machine codes of API.md, one per HTTP status. */
export const codeForStatus = (status: number): string => {
  switch (status) {
    case 400:
      return "validation_failed"
    case 401:
      return "unauthorized"
    case 403:
      return "forbidden"
    case 404:
      return "not_found"
    case 405:
      return "method_not_allowed"
    case 409:
      return "conflict"
    case 413:
      return "payload_too_large"
    case 415:
      return "unsupported_media_type"
    case 429:
      return "rate_limited"
    case 503:
      return "dependency_unavailable"
    default:
      return status >= 500 ? "internal" : "bad_request"
  }
}

/** The one error body of the public API: `{ error: { code, message, details? } }`. */
export const ErrorBody = Schema.Struct({
  error: Schema.Struct({
    code: Schema.String,
    message: Schema.String,
    details: Schema.optional(Schema.Unknown)
  })
}).annotations({ identifier: "ErrorBody", description: "Every error response of the Herald API" })
export type ErrorBody = typeof ErrorBody.Type

/** An error body for `status`, ready to serialise. */
export const errorBody = (status: number, message: string, details?: unknown): ErrorBody => ({
  error: details === undefined
    ? { code: codeForStatus(status), message }
    : { code: codeForStatus(status), message, details }
})

interface TaggedErrorSchema<Tag extends string, Fields extends Schema.Struct.Fields> {
  readonly ast: SchemaAST.AST
  readonly _tag: Tag
  readonly fields: Fields
}

/**
 * The HTTP form of a domain error: the error value on the server side, `ErrorBody` on the wire, with the status
 * its class is annotated with (and the machine code of that status unless `code` names a finer one). Domain errors
 * keep any data beyond `message` in `details`, which travels as is.
 */
export const http = <const Tag extends string, Fields extends Schema.Struct.Fields>(
  errorClass: TaggedErrorSchema<Tag, Fields>,
  code: string = codeForStatus(HttpApiSchema.getStatusErrorAST(errorClass.ast))
) => {
  const status = HttpApiSchema.getStatusErrorAST(errorClass.ast)
  return Schema.transform(ErrorBody, Schema.Struct(errorClass.fields), {
    strict: false,
    decode: (body) => ({ _tag: errorClass._tag, message: body.error.message, details: body.error.details }),
    encode: (error: { readonly message?: unknown; readonly details?: unknown }) => ({
      error: error.details === undefined
        ? { code, message: String(error.message) }
        : { code, message: String(error.message), details: error.details }
    })
  }).annotations(HttpApiSchema.annotations({ status }))
}
