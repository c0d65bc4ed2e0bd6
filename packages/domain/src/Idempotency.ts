import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import { Context, Schema } from "effect"
import * as ApiError from "./ApiError.ts"
import { IdempotencyKeyInFlight, IdempotencyKeyMismatch } from "./Errors.ts"

/**
 * Idempotent creates (IETF draft "The Idempotency-Key HTTP Header Field"): an endpoint marked with `idempotent`
 * takes an optional `Idempotency-Key` header; the gateway replays the first response to a repeat of the request.
 */

const visible = /^[\x21-\x7E]{1,255}$/

/** The header's value: 1..255 visible ASCII characters (the draft's quoted sf-string form is accepted as well). */
export const IdempotencyKey = Schema.String.pipe(
  Schema.pattern(visible, { message: () => "Idempotency-Key must be 1 to 255 visible ASCII characters (no spaces)" })
).annotations({
  title: "Idempotency-Key",
  description: "A key the client makes up for one create it means to do once, such as a fresh UUID; send the same " +
    "key when retrying that create. A repeat within 24 hours gets the first response again, marked " +
    "`Idempotent-Replayed: true`; the same key with another body gets 422 `idempotency_key_mismatch`; a repeat while " +
    "the first is still running gets 409 `conflict`.",
  examples: ["\"8e03978e-40d5-43e8-bc93-6894a57f9324\"", "create-task-2031-01-31-0001"]
})

export const IdempotencyHeaders = Schema.Struct({ "idempotency-key": Schema.optional(IdempotencyKey) })

/** The key a header value names: the draft's form is an sf-string, so `"abc"` and `abc` are the same key. */
export const normaliseIdempotencyKey = (value: string): string =>
  value.length > 2 && value.startsWith("\"") && value.endsWith("\"") ? value.slice(1, -1) : value

/** Marks an endpoint whose requests may carry an `Idempotency-Key` (read by the gateway from the HttpApi). */
export class Idempotent extends Context.Tag("Herald/Idempotent")<Idempotent, true>() {}

export const IdempotencyKeyMismatchBody = ApiError.http(IdempotencyKeyMismatch, "idempotency_key_mismatch").annotations({
  description: "`idempotency_key_mismatch`: this Idempotency-Key was used for a different request (another body or endpoint)"
})
export const IdempotencyKeyInFlightBody = ApiError.http(IdempotencyKeyInFlight).annotations({
  description: "`conflict`: the first request with this Idempotency-Key is still running; retry shortly with the same key"
})

/** A POST that creates something: it takes `Idempotency-Key` and documents the answers that key can bring. */
export const idempotentPost = <const Name extends string>(name: Name, path: `/${string}`) =>
  HttpApiEndpoint.post(name, path)
    .setHeaders(IdempotencyHeaders)
    .addError(IdempotencyKeyMismatchBody)
    .addError(IdempotencyKeyInFlightBody)
    .annotate(Idempotent, true)
