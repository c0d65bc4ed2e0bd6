import { Schema } from "effect"

export const CheckStatus = Schema.Literal("up", "down")

/** The state of one dependency as seen by a readiness probe. */
export const DependencyCheck = Schema.Struct({
  status: CheckStatus,
  latencyMs: Schema.Number,
  error: Schema.optional(Schema.String),
  checks: Schema.optional(
    Schema.Record({
      key: Schema.String,
      value: Schema.suspend((): Schema.Schema<DependencyCheck, DependencyCheckEncoded> => DependencyCheck)
    })
  )
}).annotations({ identifier: "DependencyCheck" })
export interface DependencyCheck {
  readonly status: "up" | "down"
  readonly latencyMs: number
  readonly error?: string | undefined
  readonly checks?: { readonly [name: string]: DependencyCheck } | undefined
}
interface DependencyCheckEncoded {
  readonly status: "up" | "down"
  readonly latencyMs: number
  readonly error?: string | undefined
  readonly checks?: { readonly [name: string]: DependencyCheckEncoded } | undefined
}

/** `GET /ready` and every service's readiness RPC: `ready` only when every check is up. */
export const Readiness = Schema.Struct({
  status: Schema.Literal("ready", "unavailable"),
  checks: Schema.Record({ key: Schema.String, value: DependencyCheck })
})
export type Readiness = typeof Readiness.Type

export const Liveness = Schema.Struct({ status: Schema.Literal("ok") })
