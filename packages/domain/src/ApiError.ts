import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Option, Schema, SchemaAST } from "effect"

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
    case 422:
      return "idempotency_key_mismatch"
    case 426:
      return "upgrade_required"
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
    code: Schema.String.annotations({ description: "A machine-readable code, one per status (see API.md)", examples: ["not_found"] }),
    message: Schema.String.annotations({ description: "What went wrong, for a person", examples: ["task not found"] }),
    details: Schema.optional(Schema.Unknown.annotations({ title: "Details", description: "More about the error, when there is more to say" }))
  })
}).annotations({ identifier: "ErrorBody", description: "Every error response of the Herald API" })
export type ErrorBody = typeof ErrorBody.Type

/** An error body for `status`, ready to serialise. */
export const errorBody = (status: number, message: string, details?: unknown): ErrorBody => ({
  error: details === undefined
    ? { code: codeForStatus(status), message }
    : { code: codeForStatus(status), message, details }
})

/** How an error is documented: what it means (its responses' description) and a typical instance. */
export interface ErrorDoc {
  readonly description: string
  readonly message: string
  readonly details?: unknown
}

const ErrorDocId = Symbol.for("@herald/domain/ApiError/ErrorDoc")

/** The annotations of a domain error class: its HTTP status and how the OpenAPI document describes it. */
export const documented = <A>(status: number, doc: ErrorDoc): Schema.Annotations.Schema<A> =>
  HttpApiSchema.annotations<A>({ status, description: doc.description, [ErrorDocId]: doc })

const isErrorDoc = (value: unknown): value is ErrorDoc =>
  typeof value === "object" && value !== null && "description" in value && typeof value.description === "string" &&
  "message" in value && typeof value.message === "string"

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
  const fields = Schema.Struct(errorClass.fields)
  // A class's annotations sit on its declaration, the `to` side of its AST.
  const annotated = SchemaAST.isTransformation(errorClass.ast) ? errorClass.ast.to : errorClass.ast
  const doc = SchemaAST.getAnnotation<unknown>(annotated, ErrorDocId).pipe(Option.filter(isErrorDoc))
  const isInstance = Schema.is(fields)
  const example = Option.flatMap(doc, ({ details, message }) =>
    Option.liftPredicate({ _tag: errorClass._tag, message, ...(details === undefined ? {} : { details }) }, isInstance))
  // The error's own name in the document (a component that is `ErrorBody` with its description and an example).
  const documentation = Option.match(doc, {
    onNone: () => ({}),
    onSome: ({ description }) => ({
      identifier: errorClass._tag,
      description,
      ...Option.match(example, { onNone: () => ({}), onSome: (value) => ({ examples: [value] as const }) })
    })
  })
  return Schema.transform(ErrorBody, fields, {
    strict: false,
    decode: (body) => ({ _tag: errorClass._tag, message: body.error.message, details: body.error.details }),
    encode: (error: { readonly message?: unknown; readonly details?: unknown }) => ({
      error: error.details === undefined
        ? { code, message: String(error.message) }
        : { code, message: String(error.message), details: error.details }
    })
  }).annotations(HttpApiSchema.annotations({ status, ...documentation }))
}
