import * as KeyedLock from "@herald/infra/KeyedLock"
import * as Outbox from "@herald/infra/Outbox"
import { DeclaredTopology } from "@herald/infra/Topology"
import { Effect } from "effect"
import { RevokedFamilies } from "./RevokedFamilies.ts"

/** The outbox relay of the users service: `security.session_revoked`, recorded with the revocation it tells of. */
export class UsersRelay extends Effect.Service<UsersRelay>()("Herald/UsersRelay", {
  scoped: Effect.gen(function*() {
    const { exchange } = yield* DeclaredTopology
    const families = yield* RevokedFamilies
    // A revocation is inserted once, before the relay hears of it, and never written again: no writer to wait for.
    const lock = yield* KeyedLock.make
    return yield* Outbox.run({ name: "users", exchange, sources: [families.outbox], lock })
  }),
  dependencies: [DeclaredTopology.Default]
}) {}
