import { describe, expect, it, layer } from "@effect/vitest"
import { mongoStore, servers, uniqueName } from "@herald/testing/Env"
import { startFerretDb } from "@herald/testing/FerretDb"
import { Effect, Exit, Layer, Option, Redacted, Schema, TestClock } from "effect"
import * as MemoryStore from "../src/MemoryStore.ts"
import { connect, layerStore, MongoDatabase } from "../src/Mongo.ts"
import { DocumentStore } from "../src/Store.ts"

const Item = Schema.Struct({
  _id: Schema.String,
  owner: Schema.String,
  email: Schema.optional(Schema.String),
  rank: Schema.Int,
  version: Schema.Int,
  at: Schema.DateFromSelf,
  tags: Schema.Array(Schema.String),
  counts: Schema.Record({ key: Schema.String, value: Schema.Int }),
  note: Schema.NullOr(Schema.String)
})
type Item = typeof Item.Type

const spec = {
  name: "items",
  schema: Item,
  indexes: [
    { keys: { email: 1 }, unique: true },
    { keys: { owner: 1, rank: -1 } },
    { keys: { at: 1 }, expireAfterSeconds: 60 }
  ]
} as const

// Unique-indexed fields are always present: MongoDB indexes a missing field as null (a second such document is a
// duplicate) while FerretDB skips it, so Herald never relies on either behaviour.
const item = (id: string, fields: Partial<Item> = {}): Item => ({
  _id: id,
  email: `${id}@x.io`,
  owner: "ann",
  rank: 0,
  version: 1,
  at: new Date("2030-01-01T00:00:00.000Z"),
  tags: [],
  counts: {},
  note: null,
  ...fields
})

const contract = (name: string, store: Layer.Layer<DocumentStore>) =>
  layer(store)(`DocumentStore contract: ${name}`, (it) => {
    const open = (suffix: string) =>
      Effect.flatMap(DocumentStore, (s) => s.collection({ ...spec, name: `${spec.name}_${suffix}` }))

    it.scoped("stores and reads back documents unchanged, dates included", () =>
      Effect.gen(function*() {
        const items = yield* open("roundtrip")
        const doc = item("a", { email: "a@x.io", tags: ["t"], counts: { x: 1 } })
        yield* items.insertOne(doc)
        expect(yield* items.findOne({ _id: "a" })).toEqual(Option.some(doc))
        expect(yield* items.findOne({ _id: "missing" })).toEqual(Option.none())
      }))

    it.scoped("a unique index lets exactly one of many concurrent inserts of the same key win", () =>
      Effect.gen(function*() {
        const items = yield* open("claims")
        const results = yield* Effect.forEach(
          Array.from({ length: 20 }, (_, i) => item(`c${i}`, { email: "same@x.io" })),
          (doc) => Effect.exit(items.insertOne(doc)),
          { concurrency: "unbounded" }
        )
        expect(results.filter(Exit.isSuccess)).toHaveLength(1)
        const failures = results.filter(Exit.isFailure)
        expect(failures).toHaveLength(19)
        // Whichever won (not necessarily the first sent), the key stays taken.
        expect(yield* Effect.flip(items.insertOne(item("late", { email: "same@x.io" })))).toMatchObject({ _tag: "DuplicateKey" })
      }))

    it.scoped("a compare-and-set update matches only the expected version", () =>
      Effect.gen(function*() {
        const items = yield* open("cas")
        yield* items.insertOne(item("v"))
        const first = yield* items.updateOne({ _id: "v", version: 1 }, { $set: { note: "one" }, $inc: { version: 1 } })
        const stale = yield* items.updateOne({ _id: "v", version: 1 }, { $set: { note: "two" }, $inc: { version: 1 } })
        expect(first.matched).toBe(1)
        expect(stale.matched).toBe(0)
        expect(Option.map(yield* items.findOne({ _id: "v" }), (d) => [d.note, d.version])).toEqual(Option.some(["one", 2]))
      }))

    it.scoped("updates: $set on dotted paths, $inc, $unset and $push $each", () =>
      Effect.gen(function*() {
        const items = yield* open("updates")
        yield* items.insertOne(item("u", { email: "u@x.io", counts: { todo: 1 } }))
        yield* items.updateOne({ _id: "u" }, {
          $set: { "counts.done": 2 },
          $inc: { "counts.todo": 3, rank: 1 },
          $push: { tags: { $each: ["a", "b"] } }
        })
        yield* items.updateOne({ _id: "u" }, { $unset: { email: true } })
        const doc = Option.getOrThrow(yield* items.findOne({ _id: "u" }))
        expect(doc.counts).toEqual({ todo: 4, done: 2 })
        expect(doc.rank).toBe(1)
        expect(doc.tags).toEqual(["a", "b"])
        expect(doc.email).toBeUndefined()
      }))

    it.scoped("queries: operators, null matching a missing field, $or, sort, skip and limit", () =>
      Effect.gen(function*() {
        const items = yield* open("queries")
        yield* items.insertMany([
          item("q1", { rank: 1 }),
          item("q2", { rank: 2, owner: "bob" }),
          item("q3", { rank: 3, note: "n" }),
          item("q4", { rank: 4, at: new Date("2031-01-01T00:00:00.000Z") })
        ])
        // One document without its unique field: MongoDB indexes a missing field as null, so only one may lack it.
        yield* items.updateMany({ _id: "q2" }, { $unset: { email: true } })
        const ids = (docs: ReadonlyArray<Item>) => docs.map((d) => d._id)
        expect(ids(yield* items.find({ rank: { $gte: 2, $lt: 4 } }, { sort: { rank: 1 } }))).toEqual(["q2", "q3"])
        expect(ids(yield* items.find({ _id: { $in: ["q1", "q4", "zz"] } }, { sort: { _id: -1 } }))).toEqual(["q4", "q1"])
        expect(ids(yield* items.find({ email: null }, { sort: { _id: 1 } }))).toEqual(["q2"])
        expect(ids(yield* items.find({ email: { $exists: true } }, { sort: { _id: 1 } }))).toEqual(["q1", "q3", "q4"])
        expect(ids(yield* items.find({ owner: { $ne: "bob" }, note: null }, { sort: { rank: -1 } }))).toEqual(["q4", "q1"])
        expect(ids(yield* items.find({ $or: [{ owner: "bob" }, { note: "n" }] }, { sort: { rank: 1 } }))).toEqual(["q2", "q3"])
        expect(ids(yield* items.find({ at: { $gt: new Date("2030-06-01T00:00:00.000Z") } }))).toEqual(["q4"])
        expect(ids(yield* items.find({}, { sort: { rank: -1 }, skip: 1, limit: 2 }))).toEqual(["q3", "q2"])
        expect(yield* items.count({ owner: "ann" })).toBe(3)
      }))

    it.scoped("countBy counts the matching documents by a field's value in one query", () =>
      Effect.gen(function*() {
        const items = yield* open("countby")
        yield* items.insertMany(["ann", "ann", "bob", "ann", "cy"].map((owner, i) => item(`k${i}`, { owner, rank: i })))
        expect(yield* items.countBy({ owner: { $in: ["ann", "bob", "dan"] }, rank: { $gt: 0 } }, "owner")).toEqual(new Map([["ann", 2], ["bob", 1]]))
        expect(yield* items.countBy({ owner: "nobody" }, "owner")).toEqual(new Map())
      }))

    it.scoped("an updateMany that would break a unique index fails, and the index still holds", () =>
      Effect.gen(function*() {
        const items = yield* open("many_unique")
        yield* items.insertMany([item("u1", { rank: 1 }), item("u2", { rank: 1 }), item("u3", { rank: 2 })])
        const exit = yield* Effect.exit(items.updateMany({ rank: 1 }, { $set: { email: "same@x.io" } }))
        expect(Exit.isFailure(exit)).toBe(true)
        const emails = (yield* items.find({})).map((d) => d.email)
        expect(new Set(emails).size).toBe(emails.length)
      }))

    it.scoped("a large insertMany with duplicates among its own documents keeps the first of each key", () =>
      Effect.gen(function*() {
        const items = yield* open("many_dupes")
        const docs = Array.from({ length: 3_000 }, (_, i) => item(`d${i}`, { email: `k${i % 1_000}@x.io`, rank: i }))
        const result = yield* items.insertMany(docs)
        expect(result.inserted).toBe(1_000)
        expect(result.duplicates).toEqual(Array.from({ length: 2_000 }, (_, i) => i + 1_000))
        expect(yield* items.count({ rank: { $lt: 1_000 } })).toBe(1_000)
        expect(Option.map(yield* items.findOne({ email: "k7@x.io" }), (d) => d._id)).toEqual(Option.some("d7"))
      }))

    it.scoped("findOneAndUpdate returns the document before or after, and upserts with $setOnInsert", () =>
      Effect.gen(function*() {
        const items = yield* open("fau")
        yield* items.insertOne(item("f", { rank: 5 }))
        const before = yield* items.findOneAndUpdate({ _id: "f" }, { $inc: { rank: 1 } }, { returnDocument: "before" })
        const after = yield* items.findOneAndUpdate({ _id: "f" }, { $inc: { rank: 1 } }, { returnDocument: "after" })
        expect(Option.map(before, (d) => d.rank)).toEqual(Option.some(5))
        expect(Option.map(after, (d) => d.rank)).toEqual(Option.some(7))
        const missing = yield* items.findOneAndUpdate({ _id: "nope" }, { $inc: { rank: 1 } }, { returnDocument: "after" })
        expect(missing).toEqual(Option.none())
        // FerretDB drops null and empty-array values of $setOnInsert on upsert; Herald upserts with $set instead.
        const { _id: _, rank: __, note: ___, tags: ____, ...rest } = item("new")
        const upserted = yield* items.findOneAndUpdate(
          { _id: "new" },
          { $setOnInsert: rest, $set: { note: null, tags: [] }, $inc: { rank: 10 } },
          { returnDocument: "after", upsert: true }
        )
        expect(Option.map(upserted, (d) => [d._id, d.rank, d.owner])).toEqual(Option.some(["new", 10, "ann"]))
      }))

    it.scoped("insertMany skips duplicates and inserts the rest; deletes report counts", () =>
      Effect.gen(function*() {
        const items = yield* open("bulk")
        yield* items.insertOne(item("b1"))
        yield* items.insertOne(item("b3"))
        const result = yield* items.insertMany([item("b1"), item("b2"), item("b3"), item("b4")])
        expect(result).toEqual({ inserted: 2, duplicates: [0, 2] })
        expect(yield* items.deleteOne({ _id: "b2" })).toBe(1)
        expect(yield* items.deleteOne({ _id: "b2" })).toBe(0)
        expect(yield* items.deleteMany({ owner: "ann" })).toBe(3)
        expect(yield* items.count({})).toBe(0)
      }))

    it.scoped("documents past their TTL disappear", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(new Date("2030-01-01T00:10:00.000Z").getTime())
        const items = yield* open("ttl")
        yield* items.insertMany([
          item("old", { at: new Date("2030-01-01T00:00:00.000Z") }),
          item("fresh", { at: new Date("2030-01-01T00:11:30.000Z") })
        ])
        // Two minutes on: "old" is twelve minutes old, "fresh" thirty seconds (the TTL is sixty).
        yield* TestClock.adjust("2 minutes")
        // The sweep runs on the real server: give its round trip real time to land.
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 300)))
        expect((yield* items.find({}, { sort: { _id: 1 } })).map((d) => d._id)).toEqual(["fresh"])
      }))
  })

describe("DocumentStore", () => {
  contract("MongoDB wire (FerretDB in tests)", mongoStore("store_contract"))
  contract("in memory", MemoryStore.layerMemory)
})

describe("MongoDB connection", () => {
  it.live("the connection string's own pool size applies; otherwise Herald's default (50)", () =>
    Effect.gen(function*() {
      const url = servers().mongodbUrl
      const poolSizeOf = (connectionString: string) =>
        Effect.scoped(Effect.map(
          connect({ url: Redacted.make(connectionString), database: uniqueName("pool"), connectRetries: 1 }),
          ({ client }) => client.options.maxPoolSize
        ))
      expect(yield* poolSizeOf(url)).toBe(50)
      expect(yield* poolSizeOf(`${url}${url.includes("?") ? "&" : "?"}maxPoolSize=2`)).toBe(2)
    }))

  it.live("an unreachable server is retried, then reported as a typed error", () =>
    Effect.gen(function*() {
      const started = Date.now()
      const error = yield* Effect.flip(Effect.scoped(connect({
        url: Redacted.make("mongodb://127.0.0.1:1/?directConnection=true"),
        database: "unreachable",
        connectRetries: 2
      })))
      expect(error._tag).toBe("MongoConnectionError")
      expect(error.message).toContain("127.0.0.1:1")
      // Three attempts with backoff between them, each failing fast: a retry happened, and it was bounded.
      expect(Date.now() - started).toBeGreaterThan(200)
    }))
})

describe("MongoDB outages", () => {
  it.live("a bulk insert the server never answered fails as unavailable, never as stored", () =>
    Effect.gen(function*() {
      const ferret = yield* Effect.acquireRelease(Effect.promise(() => startFerretDb()), (server) => Effect.promise(() => server.stop()))
      const database = Layer.scoped(
        MongoDatabase,
        connect({ url: Redacted.make(`${ferret.url}&socketTimeoutMS=1500`), database: uniqueName("outage"), connectRetries: 1 }).pipe(
          Effect.orDie
        )
      )
      yield* Effect.gen(function*() {
        const store = yield* DocumentStore
        const items = yield* store.collection({ ...spec, name: "outage_items" })
        yield* items.insertMany([item("before")])
        // Frozen mid-command: the driver loses the connection inside the bulk operation.
        ferret.pause()
        const exit = yield* Effect.exit(items.insertMany([item("a"), item("b")]))
        ferret.resume()
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) expect(String(exit.cause)).toContain("DependencyUnavailable")
        // Trying again stores what the lost call did not (a duplicate for what it did).
        yield* items.insertMany([item("a"), item("b")]).pipe(Effect.retry({ times: 5 }))
        expect((yield* items.find({}, { sort: { _id: 1 } })).map((d) => d._id)).toEqual(["a", "b", "before"])
      }).pipe(Effect.provide(layerStore.pipe(Layer.provide(database))))
    }).pipe(Effect.scoped), 60_000)
})
