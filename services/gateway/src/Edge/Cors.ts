import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { Effect } from "effect"

/** CORS for the configured origins (none by default: same-origin behind Nginx). */
export const cors = (config: { readonly corsOrigins: ReadonlyArray<string> }) =>
  config.corsOrigins.length === 0
    ? <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) => app
    : HttpMiddleware.cors({
      allowedOrigins: config.corsOrigins,
      allowedHeaders: ["authorization", "content-type", "idempotency-key", "if-match", "x-request-id"],
      exposedHeaders: [
        "idempotent-replayed", "location", "ratelimit", "ratelimit-policy", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset",
        "retry-after", "x-request-id"
      ],
      maxAge: 600
    })
