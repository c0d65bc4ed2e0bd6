import { Schema } from "effect"
import { exampleId } from "./Ids.ts"

const isoDateTime = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/

/** An ISO-8601 timestamp on the wire (a date, or a date-time with a zone), a `Date` in code; always sent back in UTC. */
export const IsoDateTime = Schema.transform(
  Schema.String.pipe(
    Schema.pattern(isoDateTime, {
      message: () => "expected an ISO-8601 date or date-time with a time zone, e.g. 2030-01-31T12:00:00Z"
    })
  ),
  Schema.ValidDateFromSelf,
  {
    strict: true,
    decode: (text) => new Date(text),
    encode: (date) => date.toISOString()
  }
).annotations({
  identifier: "IsoDateTime",
  jsonSchema: {
    type: "string",
    format: "date-time",
    description: "An ISO-8601 timestamp. Herald always answers in UTC; a date alone means midnight UTC.",
    examples: ["2030-01-31T12:00:00.000Z"]
  }
})

/** What the OpenAPI document says of a field: for people (description) and tools (examples). */
export interface FieldDoc {
  readonly description: string
  readonly examples: ReadonlyArray<string>
}

/** Stored text never holds U+0000: no one types it, and PostgreSQL (under FerretDB) cannot store it in JSON. */
export const noNul = <A extends string, I, R>(self: Schema.Schema<A, I, R>) =>
  self.pipe(Schema.filter((text) => !text.includes("\u0000") || "text must not contain the NUL character (U+0000)", { jsonSchema: {} }))

/**
 * Text that is trimmed and must then have between `min` and `max` characters. Its JSON Schema is stated here (a
 * transformation's constraints sit on its decoded side, which the generated document does not show).
 */
export const TrimmedText = (min: number, max: number, doc: FieldDoc) =>
  Schema.Trim.pipe(noNul, Schema.minLength(min), Schema.maxLength(max)).annotations({
    jsonSchema: {
      type: "string",
      minLength: min,
      maxLength: max,
      description: `${doc.description}: ${min} to ${max} characters once surrounding whitespace is trimmed.`,
      examples: doc.examples
    }
  })

/** A non-negative whole number in a response, with what it counts. */
export const Count = (description: string, example: number) =>
  Schema.Number.pipe(Schema.int(), Schema.nonNegative()).annotations({
    jsonSchema: { type: "integer", minimum: 0, description, examples: [example] }
  })

const maxLimit = 100

/** `?limit=`: 1..100. A query parameter is text on the wire, but an integer in the document (and typed clients). */
export const Limit = Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, maxLimit))

/** The `?limit=` field of a list query, with its default. */
export const limitParam = (defaultLimit: number) =>
  Schema.optionalWith(
    Limit.annotations({
      jsonSchema: {
        type: "integer",
        minimum: 1,
        maximum: maxLimit,
        default: defaultLimit,
        description: `How many items to return, 1 to ${maxLimit} (default ${defaultLimit}).`,
        examples: [defaultLimit]
      }
    }),
    { default: () => defaultLimit }
  )

export const encodeCursor = (lastId: string): string => Buffer.from(lastId, "utf8").toString("base64url")

/** An opaque pagination cursor: base64url of the last id seen. */
export const Cursor = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,200}$/, { message: () => "malformed cursor" })).annotations({
  title: "Cursor",
  description: "The `nextCursor` of the previous page; leave it out for the first page."
})

/** The `?cursor=` field of a list query; its example names a page after an (unknown) item of that list. */
export const cursorParam = (prefix: string) =>
  Schema.optional(Cursor.annotations({ examples: [encodeCursor(exampleId(prefix))] }))

export const PageQuery = {
  limit: limitParam(20),
  cursor: cursorParam("prj")
}

/** A page of a list endpoint: `{ items, nextCursor }`. */
export const Page = <A, I, R>(item: Schema.Schema<A, I, R>, description = "A page of items") =>
  Schema.Struct({
    items: Schema.Array(item),
    nextCursor: Schema.NullOr(Schema.String).annotations({
      description: "Pass it as `?cursor=` to get the next page; null on the last page.",
      examples: [null]
    })
  }).annotations({ description })

export const decodeCursor = (cursor: string): string => Buffer.from(cursor, "base64url").toString("utf8")

/** `true` or `false` in a query string; a boolean in the document (and typed clients). */
export const BooleanFromText = Schema.transform(Schema.Literal("true", "false"), Schema.Boolean, {
  strict: true,
  decode: (text) => text === "true",
  encode: (flag) => (flag ? "true" : "false")
})
