import * as Mongo from "@herald/infra/Mongo"
import { DocumentStore } from "@herald/infra/Store"
import { Effect, Layer, Redacted } from "effect"
import { inject } from "vitest"

/** The servers of this test run (see globalSetup.ts). */
export const servers = () => ({
  mongodbUrl: inject("mongodbUrl"),
  redisUrl: inject("redisUrl"),
  amqpUrl: inject("amqpUrl"),
  amqpVhost: inject("amqpVhost"),
  runId: inject("runId")
})

let counter = 0

/** A name no other test of any run uses: database names, key prefixes, queue names. */
export const uniqueName = (label: string): string => {
  counter += 1
  const random = Math.random().toString(36).slice(2, 7)
  return `t_${inject("runId")}_${label.replace(/[^a-zA-Z0-9_]/g, "_").slice(0, 20)}_${process.pid}_${counter}_${random}`
    .slice(0, 63)
}

/** A MongoDB-wire database of its own, dropped when the layer is released. */
export const mongoDatabase = (label: string) =>
  Layer.scoped(
    Mongo.MongoDatabase,
    Effect.gen(function*() {
      const database = uniqueName(label)
      const connection = yield* Mongo.connect({
        url: Redacted.make(servers().mongodbUrl),
        database,
        connectRetries: 3
      }).pipe(Effect.orDie)
      yield* Effect.addFinalizer(() => Effect.promise(() => connection.db.dropDatabase().catch(() => false)))
      return connection
    })
  )

/** The MongoDB-backed `DocumentStore` on a database of its own. */
export const mongoStore = (label: string): Layer.Layer<DocumentStore | Mongo.MongoDatabase> =>
  Mongo.layerStore.pipe(Layer.provideMerge(mongoDatabase(label)))
