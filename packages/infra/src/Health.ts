import type { DependencyCheck, Readiness, ServiceCheck } from "@herald/domain/Health"
import { Clock, Duration, Effect, Record } from "effect"

const probeTimeout = Duration.seconds(2)

/** Runs one probe with a deadline and reports it as a `DependencyCheck`. */
export const check = <E>(probe: Effect.Effect<void, E>): Effect.Effect<DependencyCheck> =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const outcome = yield* probe.pipe(
      Effect.timeoutFail({ duration: probeTimeout, onTimeout: () => "timed out" as const }),
      Effect.either
    )
    const latencyMs = (yield* Clock.currentTimeMillis) - started
    return outcome._tag === "Right"
      ? { status: "up" as const, latencyMs }
      : { status: "down" as const, latencyMs, error: describe(outcome.left) }
  })

const describe = (error: unknown): string =>
  typeof error === "string"
    ? error
    : error !== null && typeof error === "object" && "message" in error && typeof error.message === "string"
    ? error.message
    : "unavailable"

/** Every probe at once; ready only when all are up. */
export const readiness = <Check extends DependencyCheck>(
  checks: Record<string, Effect.Effect<Check>>
): Effect.Effect<{ readonly status: Readiness["status"]; readonly checks: Record<string, Check> }> =>
  Effect.map(Effect.all(checks, { concurrency: "unbounded" }), (results) => ({
    status: Record.every(results, (result) => result.status === "up") ? "ready" as const : "unavailable" as const,
    checks: results
  }))

/** A nested readiness report (another service's) as one check of ours. */
export const fromReadiness = (report: Readiness, latencyMs: number): ServiceCheck =>
  report.status === "ready"
    ? { status: "up", latencyMs, checks: report.checks }
    : { status: "down", latencyMs, error: "not ready", checks: report.checks }
