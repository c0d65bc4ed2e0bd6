import { DependencyUnavailable, unavailable } from "@herald/domain/Errors"
import { Config, Context, Data, Duration, Effect, Layer, Option, Redacted, Schema, SubscriptionRef } from "effect"
import {
  type Db,
  type Filter as MongoFilter,
  MongoBulkWriteError,
  MongoClient,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  type UpdateFilter
} from "mongodb"
import { backoff } from "./Retry.ts"
import { type Collection, type CollectionSpec, type Document, DocumentStore, DuplicateKey } from "./Store.ts"
import * as Lease from "./Lease.ts"
import { sweepExpired } from "./Ttl.ts"
import { MongoConfig } from "./InfraConfig.ts"

/** How often a TTL sweep runs where the server keeps no TTL index, and how long its lease outlives a dead holder. */
const sweepEvery = "1 minutes"
const sweepLease = Duration.minutes(3)


/** The server did not accept a connection within the retry schedule. */
export class MongoConnectionError extends Data.TaggedError("MongoConnectionError")<{
  readonly message: string
  readonly cause: unknown
}> {}

export class MongoDatabase extends Context.Tag("Herald/MongoDatabase")<MongoDatabase, {
  readonly client: MongoClient
  readonly db: Db
}>() {}

const connectRetry = (retries: number) => backoff({ base: "200 millis", cap: "5 seconds", retries })

/** Where a URL points, without its credentials, for log lines and errors. */
export const describeUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    return `${parsed.protocol}//${parsed.host}`
  } catch {
    return "<unparseable url>"
  }
}

/** Herald's pool size per process, unless the connection string sets its own `maxPoolSize`. */
const defaultMaxPoolSize = 50

/**
 * Connects (retrying with jittered backoff), pings, and closes the client when the scope ends. Options in the
 * connection string apply; the driver prefers options given in code over them, so Herald's defaults are given only
 * where the string is silent (`maxPoolSize=2` suits FerretDB's single SQLite writer: README, Performance).
 */
export const connect = (config: MongoConfig) => {
  const url = Redacted.value(config.url)
  const urlSetsPoolSize = /[?&]maxPoolSize=/i.test(url)
  const open = Effect.tryPromise({
    try: async () => {
      const client = new MongoClient(url, {
        serverSelectionTimeoutMS: 2_000,
        connectTimeoutMS: 2_000,
        ...(urlSetsPoolSize ? {} : { maxPoolSize: defaultMaxPoolSize }),
        appName: "herald"
      })
      try {
        await client.connect()
        await client.db(config.database).command({ ping: 1 })
        return client
      } catch (error) {
        await client.close().catch(() => undefined)
        throw error
      }
    },
    catch: (cause) => new MongoConnectionError({ message: `cannot connect to MongoDB at ${describeUrl(url)}`, cause })
  }).pipe(
    Effect.tapError((error) => Effect.logWarning(`${error.message}; retrying`)),
    Effect.retry(connectRetry(config.connectRetries))
  )
  return Effect.acquireRelease(open, (client) => Effect.promise(() => client.close())).pipe(
    Effect.map((client) => ({ client, db: client.db(config.database) }))
  )
}

export const layerDatabase = (config: MongoConfig) => Layer.scoped(MongoDatabase, connect(config))

export const layerDatabaseConfig = Layer.unwrapEffect(Effect.map(MongoConfig, layerDatabase))

const isTransient = (error: unknown): boolean =>
  error instanceof MongoNetworkError ||
  error instanceof MongoServerSelectionError ||
  error instanceof MongoNotConnectedError ||
  error instanceof MongoTopologyClosedError

// FerretDB answers code 1 (not 11000) when a `$set` breaks a unique index.
const isDuplicate = (error: unknown): boolean =>
  error instanceof MongoServerError && (error.code === 11000 || (error.code === 1 && /duplicate/i.test(error.message)))

/** One skipped document of an unordered bulk insert, when a unique index refused it. */
const isDuplicateWriteError = (writeError: unknown): writeError is { readonly index: number } =>
  typeof writeError === "object" && writeError !== null && "index" in writeError && typeof writeError.index === "number" &&
  "code" in writeError && writeError.code === 11000

class MongoDefect extends Data.TaggedError("MongoDefect")<{ readonly cause: unknown }> {}
class MongoUnavailable extends Data.TaggedError("MongoUnavailable")<{ readonly collection: string; readonly cause: unknown }> {}

const classify = (collection: string) => (error: unknown) =>
  isDuplicate(error)
    ? new DuplicateKey({ collection })
    : isTransient(error)
    ? new MongoUnavailable({ collection, cause: error })
    : new MongoDefect({ cause: error })

/** The driver's message names internal servers: it goes to the log, and callers (and clients) get a fixed one. */
const reportUnavailable = (error: MongoUnavailable) =>
  Effect.zipRight(
    Effect.logWarning(`MongoDB did not answer (${error.collection}): ${error.cause instanceof Error ? error.cause.message : String(error.cause)}`),
    Effect.fail(unavailable("mongodb", "the database is unavailable"))
  )

const runWrite = <A>(collection: string, run: () => Promise<A>): Effect.Effect<A, DuplicateKey | DependencyUnavailable> =>
  Effect.tryPromise({ try: run, catch: classify(collection) }).pipe(
    Effect.catchTags({ MongoDefect: (defect) => Effect.die(defect.cause), MongoUnavailable: reportUnavailable })
  )

const runRead = <A>(collection: string, run: () => Promise<A>): Effect.Effect<A, DependencyUnavailable> =>
  runWrite(collection, run).pipe(Effect.catchTag("DuplicateKey", (error) => Effect.die(error)))

const probeTimeout = Duration.seconds(2)

/** A stored document as the driver sees it: string ids (Herald never uses ObjectId), any other fields. */
interface StoredRow {
  _id: string
  [field: string]: unknown
}

const plain = (value: object): { [field: string]: unknown } => Object.fromEntries(Object.entries(value))
const toFilter = (filter: object): MongoFilter<StoredRow> => plain(filter)
const toUpdate = (update: object): UpdateFilter<StoredRow> => plain(update)
const toSort = (sort: object): Array<[string, 1 | -1]> =>
  Object.entries(sort).flatMap(([field, direction]) => direction === 1 || direction === -1 ? [[field, direction]] : [])

const makeCollection = <Doc extends Document, Encoded extends object>(
  db: Db,
  spec: CollectionSpec<Doc, Encoded>
): Collection<Doc> => {
  const raw = db.collection<StoredRow>(spec.name)
  const name = spec.name
  const decode = Schema.decodeUnknown(spec.schema)
  const encode = Schema.encode(spec.schema)
  const toDoc = (row: unknown) => Effect.orDie(decode(row))
  const toDocs = (rows: ReadonlyArray<unknown>) => Effect.forEach(rows, toDoc)
  const toRow = (doc: Doc) => Effect.orDie(Effect.map(encode(doc), (encoded): StoredRow => ({ ...plain(encoded), _id: doc._id })))
  return {
    name,
    insertOne: (doc) => Effect.flatMap(toRow(doc), (row) => runWrite(name, () => raw.insertOne(row))).pipe(Effect.asVoid),
    insertMany: (docs) =>
      docs.length === 0
        ? Effect.succeed({ inserted: 0, duplicates: [] })
        : Effect.flatMap(Effect.forEach(docs, toRow), (rows) =>
          Effect.tryPromise({
            try: () => raw.insertMany(rows, { ordered: false }).then((result) => result.insertedCount),
            catch: (error) => error
          }).pipe(
            Effect.map((inserted) => ({ inserted, duplicates: [] })),
            Effect.catchAll((error) => {
              if (error instanceof MongoBulkWriteError) {
                const writeErrors: ReadonlyArray<unknown> = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors]
                // The driver wraps a connection lost mid-command in a bulk error with no write errors: the server
                // never answered, so nothing can be counted as stored.
                if (writeErrors.length === 0) {
                  return reportUnavailable(new MongoUnavailable({ collection: name, cause: error }))
                }
                // An unordered bulk insert reports the duplicates it skipped and inserts the rest.
                const duplicates = writeErrors.flatMap((writeError) =>
                  isDuplicateWriteError(writeError) ? [writeError.index] : []
                ).sort((a, b) => a - b)
                if (duplicates.length === writeErrors.length) return Effect.succeed({ inserted: rows.length - duplicates.length, duplicates })
              }
              const classified = classify(name)(error)
              return classified._tag === "MongoUnavailable" ? reportUnavailable(classified) : Effect.die(error)
            })
          )),
    findOne: (filter) =>
      runRead(name, () => raw.findOne(toFilter(filter))).pipe(
        Effect.flatMap((row) => row === null ? Effect.succeed(Option.none()) : Effect.map(toDoc(row), Option.some))
      ),
    find: (filter, options) =>
      runRead(name, () => {
        let cursor = raw.find(toFilter(filter))
        if (options?.sort) cursor = cursor.sort(toSort(options.sort))
        if (options?.skip) cursor = cursor.skip(options.skip)
        if (options?.limit) cursor = cursor.limit(options.limit)
        return cursor.toArray()
      }).pipe(Effect.flatMap(toDocs)),
    count: (filter) => runRead(name, () => raw.countDocuments(toFilter(filter))),
    countBy: (filter, field) =>
      runRead(name, () => raw.aggregate<{ _id: unknown; n: number }>([{ $match: toFilter(filter) }, { $group: { _id: `$${field}`, n: { $sum: 1 } } }]).toArray()).pipe(
        Effect.map((groups) => new Map(groups.filter((group) => group._id !== null).map((group) => [group._id, group.n])))
      ),
    updateOne: (filter, update, options) =>
      runWrite(name, () => raw.updateOne(toFilter(filter), toUpdate(update), { upsert: options?.upsert ?? false })).pipe(
        Effect.map((result) => ({ matched: result.matchedCount, upserted: result.upsertedCount > 0 }))
      ),
    updateMany: (filter, update) =>
      runRead(name, () => raw.updateMany(toFilter(filter), toUpdate(update))).pipe(Effect.map((result) => result.matchedCount)),
    findOneAndUpdate: (filter, update, options) =>
      // No `projection` here: FerretDB v1 rejects it on findAndModify (code 238).
      runWrite(name, () =>
        raw.findOneAndUpdate(toFilter(filter), toUpdate(update), {
          returnDocument: options.returnDocument,
          upsert: options.upsert ?? false,
          ...(options.sort ? { sort: toSort(options.sort) } : {})
        })).pipe(
          Effect.flatMap((row) => row === null ? Effect.succeed(Option.none()) : Effect.map(toDoc(row), Option.some))
        ),
    deleteOne: (filter) => runRead(name, () => raw.deleteOne(toFilter(filter))).pipe(Effect.map((result) => result.deletedCount)),
    deleteMany: (filter) => runRead(name, () => raw.deleteMany(toFilter(filter))).pipe(Effect.map((result) => result.deletedCount))
  }
}

/** Drops indexes of earlier builds; one that is not there (27 IndexNotFound, 26 NamespaceNotFound) is fine. */
const dropOldIndexes = <Doc extends Document, Encoded extends object>(db: Db, spec: CollectionSpec<Doc, Encoded>) =>
  Effect.forEach(spec.dropIndexes ?? [], (name) =>
    Effect.tryPromise({ try: () => db.collection(spec.name).dropIndex(name), catch: (error) => error }).pipe(
      Effect.catchAll((error) =>
        error instanceof MongoServerError && (error.code === 27 || error.code === 26)
          ? Effect.void
          : Effect.fail(classify(spec.name)(error))
      )
    ), { discard: true })

const ensureIndexes = <Doc extends Document, Encoded extends object>(db: Db, spec: CollectionSpec<Doc, Encoded>) =>
  Effect.zipRight(dropOldIndexes(db, spec), Effect.forEach(spec.indexes, (index) =>
    Effect.tryPromise({
      try: () =>
        db.collection(spec.name).createIndex(toSort(index.keys), {
          ...(index.unique ? { unique: true } : {}),
          ...(index.expireAfterSeconds !== undefined ? { expireAfterSeconds: index.expireAfterSeconds } : {})
        }),
      catch: (error) => error
    }).pipe(
      Effect.as(true),
      Effect.catchAll((error) =>
        // 238 NotImplemented: FerretDB has no TTL indexes; a sweep keeps the same promise instead.
        error instanceof MongoServerError && error.code === 238 && index.expireAfterSeconds !== undefined
          ? Effect.succeed(false)
          : Effect.fail(classify(spec.name)(error))
      ),
      Effect.map((kept) => ({ index, kept }))
    ))).pipe(
      Effect.catchTags({
        DuplicateKey: (error) => Effect.die(error),
        MongoDefect: (defect) => Effect.die(defect.cause),
        MongoUnavailable: reportUnavailable
      })
    )

/** The `DocumentStore` on a MongoDB-wire server. */
export const layerStore: Layer.Layer<DocumentStore, never, MongoDatabase> = Layer.effect(
  DocumentStore,
  Effect.gen(function*() {
    const { db } = yield* MongoDatabase
    const store: DocumentStore["Type"] = DocumentStore.of({
      kind: "mongodb",
      collection: (spec) =>
        Effect.gen(function*() {
          const results = yield* ensureIndexes(db, spec)
          const sweeping = results.filter((result) => !result.kept).map((result) => result.index)
          if (sweeping.length === 0) return makeCollection(db, spec)
          // One copy sweeps a collection (the lease's holder); the others take over within `sweepLease` if it dies.
          const { leading } = yield* Lease.hold(`ttl-sweep:${spec.name}`, { ttl: sweepLease }).pipe(
            Effect.provideService(DocumentStore, store)
          )
          yield* sweepExpired(sweeping, (field, cutoff) =>
            Effect.promise(() => db.collection(spec.name).deleteMany({ [field]: { $lt: cutoff } })).pipe(
              Effect.map((result) => result.deletedCount)
            ), sweepEvery, SubscriptionRef.get(leading))
          return makeCollection(db, spec)
        }),
      probe: Effect.tryPromise({
        try: () => db.command({ ping: 1 }),
        catch: () => unavailable("mongodb")
      }).pipe(
        Effect.timeoutFail({ duration: probeTimeout, onTimeout: () => unavailable("mongodb", "MongoDB ping timed out") }),
        Effect.asVoid
      )
    })
    return store
  })
)

/** Store on MongoDB from `MONGODB_URL`, or the in-memory store when it is not set. */
export const isConfigured = Effect.map(Config.option(Config.redacted("MONGODB_URL")), Option.isSome)
