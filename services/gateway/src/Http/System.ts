import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { HeraldApi } from "@herald/domain/Api"
import type { Readiness, ServiceCheck } from "@herald/domain/Health"
import { VersionedCache } from "@herald/infra/Cache"
import { check, fromReadiness, readiness } from "@herald/infra/Health"
import { Clock, Effect } from "effect"
import { callNotifications, callTasks, callUsers, NotificationsClient, TasksClient, UsersClient } from "@herald/infra/ServiceClients"

/** A service's own readiness report, as one check of the gateway's. */
const serviceCheck = <E>(ready: Effect.Effect<Readiness, E>): Effect.Effect<ServiceCheck> =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const report = yield* ready.pipe(Effect.timeout("2 seconds"), Effect.either)
    const latencyMs = (yield* Clock.currentTimeMillis) - started
    return report._tag === "Right"
      ? fromReadiness(report.right, latencyMs)
      : { status: "down" as const, latencyMs, error: "not answering" }
  })

export const SystemLive = HttpApiBuilder.group(HeraldApi, "system", (handlers) =>
  Effect.gen(function*() {
    const users = yield* UsersClient
    const tasks = yield* TasksClient
    const notifications = yield* NotificationsClient
    const cache = yield* VersionedCache
    const report = readiness({
      [cache.kind === "redis" ? "redis" : "cache"]: check(cache.probe),
      users: serviceCheck(callUsers(users.Ready())),
      tasks: serviceCheck(callTasks(tasks.Ready())),
      notifications: serviceCheck(callNotifications(notifications.Ready()))
    })
    return handlers
      .handle("health", () => Effect.succeed({ status: "ok" as const }))
      .handle("ready", () => Effect.flatMap(report, (r) => (r.status === "ready" ? Effect.succeed(r) : Effect.fail(r))))
      .handle("jwks", () => callUsers(users.Jwks()))
  }))
