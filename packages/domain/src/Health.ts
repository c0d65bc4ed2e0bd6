import { Schema } from "effect"

export const CheckStatus = Schema.Literal("up", "down")

const checkFields = {
  status: CheckStatus,
  latencyMs: Schema.Number.annotations({ description: "How long the probe took, in milliseconds", examples: [3] }),
  error: Schema.optional(Schema.String.annotations({ description: "Why the dependency is down", examples: ["timed out"] }))
}

/** The state of one dependency (a database, Redis, the broker) as seen by a readiness probe. */
export const DependencyCheck = Schema.Struct(checkFields).annotations({
  identifier: "DependencyCheck",
  description: "One dependency as its readiness probe saw it"
})
export type DependencyCheck = typeof DependencyCheck.Type

/** A service's readiness report, served at its own `/ready` and by its `Ready` RPC: `ready` when every check is up. */
export const Readiness = Schema.Struct({
  status: Schema.Literal("ready", "unavailable"),
  checks: Schema.Record({ key: Schema.String, value: DependencyCheck })
})
export type Readiness = typeof Readiness.Type

/**
 * A check of the gateway's report: a dependency, or a service with its own dependencies' checks. Two levels, not a
 * recursive schema: reports nest no deeper, and tools that read the OpenAPI document refuse self-references.
 */
export const ServiceCheck = Schema.Struct({
  ...checkFields,
  checks: Schema.optional(Schema.Record({ key: Schema.String, value: DependencyCheck }))
}).annotations({
  identifier: "ServiceCheck",
  description: "A dependency of the gateway; for a service, with the checks of its own dependencies"
})
export type ServiceCheck = typeof ServiceCheck.Type

/** `GET /ready`: the gateway's report, `ready` only when every service and dependency is up. */
export const GatewayReadiness = Schema.Struct({
  status: Schema.Literal("ready", "unavailable"),
  checks: Schema.Record({ key: Schema.String, value: ServiceCheck })
}).annotations({
  identifier: "Readiness",
  description: "Every dependency of the gateway, each with its state",
  examples: [{
    status: "ready",
    checks: {
      redis: { status: "up", latencyMs: 1 },
      users: { status: "up", latencyMs: 4, checks: { mongodb: { status: "up", latencyMs: 2 }, redis: { status: "up", latencyMs: 1 } } },
      tasks: { status: "up", latencyMs: 5, checks: { mongodb: { status: "up", latencyMs: 2 }, rabbitmq: { status: "up", latencyMs: 1 } } },
      notifications: { status: "up", latencyMs: 5, checks: { mongodb: { status: "up", latencyMs: 3 }, rabbitmq: { status: "up", latencyMs: 1 } } }
    }
  }]
})
export type GatewayReadiness = typeof GatewayReadiness.Type

export const Liveness = Schema.Struct({ status: Schema.Literal("ok") }).annotations({
  description: "The gateway process is alive",
  examples: [{ status: "ok" }]
})
