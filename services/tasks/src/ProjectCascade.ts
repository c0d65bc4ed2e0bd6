import { ProjectDeleted } from "@herald/domain/Events"
import * as ConsumerPool from "@herald/infra/ConsumerPool"
import { Effect, Schema } from "effect"
import { DeclaredTopology } from "@herald/infra/Topology"
import { Tasks } from "./Tasks.ts"
import { PoolConfig } from "@herald/infra/InfraConfig"

const decode = Schema.decodeUnknown(Schema.parseJson(ProjectDeleted))

/**
 * On `project.deleted`, deletes whatever tasks of the project are still live: the request that deleted the project
 * did so already, unless its process died midway; either way the cascade is idempotent.
 */
export const runCascade = Effect.gen(function*() {
  const tasks = yield* Tasks
  const { cascade } = yield* DeclaredTopology
  const pool = yield* PoolConfig
  return yield* ConsumerPool.run({
    name: "cascade",
    queues: cascade,
    ...pool,
    workers: Math.min(pool.workers, 2),
    keyOf: ConsumerPool.envelopeKey("aggregateId"),
    handle: (delivery) =>
      decode(delivery.body).pipe(
        Effect.mapError((error) => new ConsumerPool.Poison({ reason: error.message.slice(0, 500) })),
        Effect.flatMap((event) => tasks.cascade(event.userId, event.data.projectId))
      )
  })
})
