import { Schema } from "effect"

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
).annotations({ identifier: "IsoDateTime", jsonSchema: { type: "string", format: "date-time" } })

/** Text that is trimmed and must then have between `min` and `max` characters. */
export const TrimmedText = (min: number, max: number) =>
  Schema.Trim.pipe(Schema.minLength(min), Schema.maxLength(max))

/** `?limit=`: 1..100, default 20. */
export const Limit = Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 100))

/** An opaque pagination cursor: base64url of the last id seen. */
export const Cursor = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,200}$/, { message: () => "malformed cursor" }))

export const PageQuery = {
  limit: Schema.optionalWith(Limit, { default: () => 20 }),
  cursor: Schema.optional(Cursor)
}

/** A page of a list endpoint: `{ items, nextCursor }`. */
export const Page = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.Struct({ items: Schema.Array(item), nextCursor: Schema.NullOr(Schema.String) })

export const encodeCursor = (lastId: string): string => Buffer.from(lastId, "utf8").toString("base64url")
export const decodeCursor = (cursor: string): string => Buffer.from(cursor, "base64url").toString("utf8")
