import { Broker } from "@herald/infra/Broker"
import * as KeyedLock from "@herald/infra/KeyedLock"
import * as Outbox from "@herald/infra/Outbox"
import * as Topology from "@herald/infra/Topology"
import { Effect } from "effect"
import { RevokedFamilies } from "./RevokedFamilies.ts"

/** Herald's queues and exchange, declared on the broker (now and after every reconnection). */
export class UsersTopology extends Effect.Service<UsersTopology>()("Herald/UsersTopology", {
  effect: Effect.gen(function*() {
    const topology = yield* Topology.fromConfig
    yield* (yield* Broker).declare(topology.topology)
    return topology
  })
}) {}

/** The outbox relay of the users service: `security.session_revoked`, recorded with the revocation it tells of. */
export class UsersRelay extends Effect.Service<UsersRelay>()("Herald/UsersRelay", {
  scoped: Effect.gen(function*() {
    const { exchange } = yield* UsersTopology
    const families = yield* RevokedFamilies
    // A revocation is inserted once, before the relay hears of it, and never written again: no writer to wait for.
    const lock = yield* KeyedLock.make
    return yield* Outbox.run({ name: "users", exchange, sources: [families.outbox], lock })
  }),
  dependencies: [UsersTopology.Default]
}) {}
