import { Broker } from "@herald/infra/Broker"
import * as Outbox from "@herald/infra/Outbox"
import * as Topology from "@herald/infra/Topology"
import { Effect } from "effect"
import { ExportRepo } from "./ExportRepo.ts"
import { WriteLock } from "./WriteLock.ts"

/** Herald's queues and exchange, declared on the broker (now and after every reconnection). */
export class NotificationsTopology extends Effect.Service<NotificationsTopology>()("Herald/NotificationsTopology", {
  effect: Effect.gen(function*() {
    const topology = yield* Topology.fromConfig
    yield* (yield* Broker).declare(topology.topology)
    return topology
  })
}) {}

/** The outbox relay of exports (`export.requested`, `export.completed`, `export.failed`). */
export class ExportsRelay extends Effect.Service<ExportsRelay>()("Herald/ExportsRelay", {
  scoped: Effect.gen(function*() {
    const { exchange } = yield* NotificationsTopology
    const exports = yield* ExportRepo
    const lock = yield* WriteLock
    return yield* Outbox.run({ name: "exports", exchange, sources: [exports.outbox], lock })
  })
}) {}
