import { ExportRequested } from "@herald/domain/Events"
import * as ConsumerPool from "@herald/infra/ConsumerPool"
import { Clock, Duration, Effect, Option, Schema } from "effect"
import { ExportRepo } from "./ExportRepo.ts"
import { ExportConfig } from "./NotificationsConfig.ts"
import { Exports } from "./Exports.ts"
import { DeclaredTopology } from "@herald/infra/Topology"
import { PoolConfig } from "@herald/infra/InfraConfig"

const decode = Schema.decodeUnknown(Schema.parseJson(ExportRequested))

/**
 * Export jobs: a consumer pool on `exports.jobs` (any number of copies). The last attempt, or a job past
 * `EXPORT_DEADLINE`, marks the export failed (the cause goes to the log) instead of leaving it pending forever.
 */
export const runExportWorker = Effect.gen(function*() {
  const exports = yield* Exports
  const repo = yield* ExportRepo
  const { exportJobs } = yield* DeclaredTopology
  const pool = yield* PoolConfig
  const config = yield* ExportConfig
  return yield* ConsumerPool.run({
    name: "exports",
    queues: exportJobs,
    workers: config.workers,
    prefetch: config.workers,
    mailboxSize: 1,
    maxAttempts: pool.maxAttempts,
    keyOf: ConsumerPool.envelopeKey("aggregateId"),
    handle: (delivery) =>
      Effect.gen(function*() {
        const job = yield* decode(delivery.body).pipe(
          Effect.mapError((error) => new ConsumerPool.Poison({ reason: `not an export job: ${error.message.slice(0, 300)}` }))
        )
        const attempts = typeof delivery.headers["x-attempts"] === "number" ? delivery.headers["x-attempts"] : 0
        const now = yield* Clock.currentTimeMillis
        const overdue = now - job.occurredAt.getTime() > Duration.toMillis(config.deadline)
        yield* exports.run(job.data.exportId).pipe(
          Effect.catchAll((error) =>
            overdue || attempts + 1 >= pool.maxAttempts
              ? Effect.flatMap(repo.find(job.data.exportId), Option.match({
                onNone: () => Effect.void,
                // The cause may name internal servers: it goes to the log, the client gets a fixed reason.
                onSome: (doc) =>
                  Effect.logWarning(`export ${doc._id} failed after ${attempts + 1} attempts${overdue ? ", past its deadline" : ""}: ${error.message}`).pipe(
                    Effect.zipRight(exports.fail(doc, "the export could not be completed; please request it again")),
                    Effect.asVoid
                  )
              }))
              : Effect.fail(error)
          )
        )
      })
  })
})
