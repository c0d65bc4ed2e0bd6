import * as Outbox from "@herald/infra/Outbox"
import { DeclaredTopology } from "@herald/infra/Topology"
import { Effect } from "effect"
import { ExportRepo } from "./ExportRepo.ts"
import { WriteLock } from "./WriteLock.ts"

/** The outbox relay of exports (`export.requested`, `export.completed`, `export.failed`). */
export class ExportsRelay extends Effect.Service<ExportsRelay>()("Herald/ExportsRelay", {
  scoped: Effect.gen(function*() {
    const { exchange } = yield* DeclaredTopology
    const exports = yield* ExportRepo
    const lock = yield* WriteLock
    return yield* Outbox.run({ name: "exports", exchange, sources: [exports.outbox], lock })
  })
}) {}
