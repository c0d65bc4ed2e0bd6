import { Clock, Effect, Layer, Option, Schedule, Schema } from "effect"
import {
  type Collection,
  type CollectionSpec,
  type Document,
  DocumentStore,
  DuplicateKey,
  type FindOptions,
  type Index,
  type Sort
} from "./Store.ts"

/**
 * The embedded document store: MongoDB's semantics for the operators Herald uses, in process memory. Every
 * operation runs synchronously, so each is atomic, as single-document operations are on MongoDB.
 */

type Row = Record<string, unknown>

const isOperatorObject = (value: unknown): value is Record<string, unknown> =>
  isPlainObject(value) && Object.keys(value).length > 0 && Object.keys(value).every((key) => key.startsWith("$"))

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Date)

const getPath = (doc: unknown, path: string): unknown => {
  let current: unknown = doc
  for (const part of path.split(".")) {
    if (!isPlainObject(current)) return undefined
    current = current[part]
  }
  return current
}

const setPath = (doc: Row, path: string, value: unknown): void => {
  const parts = path.split(".")
  let current: Row = doc
  parts.forEach((part, i) => {
    if (i === parts.length - 1) {
      current[part] = value
    } else {
      const next = current[part]
      if (isPlainObject(next)) {
        current = next
      } else {
        const created: Row = {}
        current[part] = created
        current = created
      }
    }
  })
}

const unsetPath = (doc: Row, path: string): void => {
  const parts = path.split(".")
  const last = parts.pop()
  const parent = parts.length === 0 ? doc : getPath(doc, parts.join("."))
  if (last !== undefined && isPlainObject(parent)) delete parent[last]
}

const comparable = (value: unknown): string | number | boolean | undefined =>
  value instanceof Date
    ? value.getTime()
    : typeof value === "string" || typeof value === "number" || typeof value === "boolean"
    ? value
    : undefined

const equal = (a: unknown, b: unknown): boolean => {
  if (a instanceof Date || b instanceof Date) return comparable(a) === comparable(b)
  if (a === b) return true
  if (typeof a === "object" && typeof b === "object" && a !== null && b !== null) {
    return JSON.stringify(a) === JSON.stringify(b)
  }
  return false
}

const equalsCondition = (value: unknown, expected: unknown): boolean => {
  if (expected === null) return value === null || value === undefined
  if (Array.isArray(value) && !Array.isArray(expected)) return value.some((item) => equal(item, expected))
  return equal(value, expected)
}

const compare = (value: unknown, bound: unknown, test: (order: number) => boolean): boolean => {
  const a = comparable(value)
  const b = comparable(bound)
  if (a === undefined || b === undefined || typeof a !== typeof b) return false
  return test(a < b ? -1 : a > b ? 1 : 0)
}

const matchesOperators = (value: unknown, ops: Record<string, unknown>): boolean =>
  Object.entries(ops).every(([op, arg]) => {
    switch (op) {
      case "$eq":
        return equalsCondition(value, arg)
      case "$ne":
        return !equalsCondition(value, arg)
      case "$in":
        return Array.isArray(arg) && arg.some((candidate) => equalsCondition(value, candidate))
      case "$nin":
        return Array.isArray(arg) && !arg.some((candidate) => equalsCondition(value, candidate))
      case "$lt":
        return compare(value, arg, (o) => o < 0)
      case "$lte":
        return compare(value, arg, (o) => o <= 0)
      case "$gt":
        return compare(value, arg, (o) => o > 0)
      case "$gte":
        return compare(value, arg, (o) => o >= 0)
      case "$exists":
        return (value !== undefined) === arg
      default:
        throw new Error(`MemoryStore: query operator ${op} is not supported`)
    }
  })

/** Whether `doc` matches a MongoDB-style filter. */
export const matches = (doc: unknown, filter: Record<string, unknown>): boolean =>
  Object.entries(filter).every(([key, condition]) => {
    if (key === "$or") return Array.isArray(condition) && condition.some((f) => isPlainObject(f) && matches(doc, f))
    if (key === "$and") return Array.isArray(condition) && condition.every((f) => isPlainObject(f) && matches(doc, f))
    const value = getPath(doc, key)
    return isOperatorObject(condition) ? matchesOperators(value, condition) : equalsCondition(value, condition)
  })

const applyUpdate = (doc: Row, update: Record<string, unknown>, inserting: boolean): void => {
  for (const [op, fields] of Object.entries(update)) {
    if (!isPlainObject(fields)) continue
    for (const [path, arg] of Object.entries(fields)) {
      switch (op) {
        case "$set":
          setPath(doc, path, structuredClone(arg))
          break
        case "$setOnInsert":
          if (inserting) setPath(doc, path, structuredClone(arg))
          break
        case "$unset":
          unsetPath(doc, path)
          break
        case "$inc": {
          const current = getPath(doc, path)
          setPath(doc, path, (typeof current === "number" ? current : 0) + (typeof arg === "number" ? arg : 0))
          break
        }
        case "$push": {
          const current = getPath(doc, path)
          const items = isPlainObject(arg) && Array.isArray(arg.$each) ? arg.$each : [arg]
          setPath(doc, path, [...(Array.isArray(current) ? current : []), ...structuredClone(items)])
          break
        }
        default:
          throw new Error(`MemoryStore: update operator ${op} is not supported`)
      }
    }
  }
}

const sortRows = (rows: Array<Row>, sort: Record<string, unknown> | undefined): Array<Row> => {
  if (sort === undefined) return rows
  const keys = Object.entries(sort)
  return rows.sort((a, b) => {
    for (const [key, direction] of keys) {
      const x = comparable(getPath(a, key))
      const y = comparable(getPath(b, key))
      if (x === y) continue
      if (x === undefined) return direction === 1 ? -1 : 1
      if (y === undefined) return direction === 1 ? 1 : -1
      return (x < y ? -1 : 1) * (direction === 1 ? 1 : -1)
    }
    return 0
  })
}

const seedFromFilter = (filter: Record<string, unknown>): Row => {
  const seed: Row = {}
  for (const [key, condition] of Object.entries(filter)) {
    if (key.startsWith("$")) continue
    if (!isOperatorObject(condition)) setPath(seed, key, structuredClone(condition))
    else if ("$eq" in condition) setPath(seed, key, structuredClone(condition.$eq))
  }
  return seed
}

interface Table {
  readonly rows: Map<string, Row>
  readonly unique: ReadonlyArray<ReadonlyArray<string>>
}

const uniqueKey = (row: Row, fields: ReadonlyArray<string>): string =>
  JSON.stringify(fields.map((field) => comparable(getPath(row, field)) ?? getPath(row, field) ?? null))

const violatesUnique = (table: Table, candidate: Row): boolean =>
  table.unique.some((fields) => {
    const key = uniqueKey(candidate, fields)
    for (const row of table.rows.values()) {
      if (row._id !== candidate._id && uniqueKey(row, fields) === key) return true
    }
    return false
  })

const makeCollection = <Doc extends Document, Encoded extends object>(spec: CollectionSpec<Doc, Encoded>, table: Table): Collection<Doc> => {
  const name = spec.name
  // As on MongoDB: documents are stored in their encoded form and decoded (defaults included) when read.
  const decode = Schema.decodeUnknownSync(spec.schema)
  const encode = Schema.encodeSync(spec.schema)
  const toDoc = (row: Row): Doc => decode(structuredClone(row))
  const toRow = (value: object): Row => ({ ...structuredClone(value) })
  const encodeDoc = (doc: Doc): Row => toRow(encode(doc))
  const query = (filter: object): Array<Row> => [...table.rows.values()].filter((row) => matches(row, toRow(filter)))
  const select = (filter: object, options: FindOptions<Doc> | undefined): Array<Row> => {
    const sorted = sortRows(query(filter), options?.sort)
    const skipped = options?.skip ? sorted.slice(options.skip) : sorted
    return options?.limit ? skipped.slice(0, options.limit) : skipped
  }
  const insert = (doc: Doc): boolean => {
    const row = encodeDoc(doc)
    const id = String(row._id)
    if (table.rows.has(id) || violatesUnique(table, row)) return false
    table.rows.set(id, row)
    return true
  }
  const modify = (
    filter: object,
    update: object,
    options: { readonly upsert?: boolean | undefined; readonly sort?: Sort<Doc> | undefined }
  ): Option.Option<{ readonly before: Row | undefined; readonly after: Row }> | "duplicate" => {
    const target = sortRows(query(filter), options.sort)[0]
    const inserting = target === undefined
    if (inserting && options.upsert !== true) return Option.none()
    const draft: Row = inserting ? seedFromFilter(toRow(filter)) : structuredClone(target)
    applyUpdate(draft, toRow(update), inserting)
    if (draft._id === undefined) draft._id = crypto.randomUUID()
    if (violatesUnique(table, draft)) return "duplicate"
    table.rows.set(String(draft._id), draft)
    return Option.some({ before: target, after: draft })
  }
  return {
    name,
    insertOne: (doc) => Effect.suspend(() => insert(doc) ? Effect.void : Effect.fail(new DuplicateKey({ collection: name }))),
    insertMany: (docs) =>
      Effect.sync(() => {
        const duplicates = docs.flatMap((doc, index) => (insert(doc) ? [] : [index]))
        return { inserted: docs.length - duplicates.length, duplicates }
      }),
    findOne: (filter) => Effect.sync(() => Option.map(Option.fromNullable(query(filter)[0]), toDoc)),
    find: (filter, options) => Effect.sync(() => select(filter, options).map(toDoc)),
    count: (filter) => Effect.sync(() => query(filter).length),
    updateOne: (filter, update, options) =>
      Effect.suspend(() => {
        const result = modify(filter, update, { upsert: options?.upsert })
        if (result === "duplicate") return Effect.fail(new DuplicateKey({ collection: name }))
        return Effect.succeed(
          Option.match(result, {
            onNone: () => ({ matched: 0, upserted: false }),
            onSome: ({ before }) => ({ matched: before === undefined ? 0 : 1, upserted: before === undefined })
          })
        )
      }),
    updateMany: (filter, update) =>
      Effect.sync(() => {
        const rows = query(filter)
        for (const row of rows) applyUpdate(row, toRow(update), false)
        return rows.length
      }),
    findOneAndUpdate: (filter, update, options) =>
      Effect.suspend(() => {
        const result = modify(filter, update, { upsert: options.upsert, sort: options.sort })
        if (result === "duplicate") return Effect.fail(new DuplicateKey({ collection: name }))
        return Effect.succeed(
          Option.flatMap(result, ({ after, before }) =>
            options.returnDocument === "after" ? Option.some(toDoc(after)) : Option.map(Option.fromNullable(before), toDoc)
          )
        )
      }),
    deleteOne: (filter) =>
      Effect.sync(() => {
        const row = query(filter)[0]
        return row !== undefined && table.rows.delete(String(row._id)) ? 1 : 0
      }),
    deleteMany: (filter) =>
      Effect.sync(() => {
        const rows = query(filter)
        for (const row of rows) table.rows.delete(String(row._id))
        return rows.length
      })
  }
}

const ttlField = <Doc>(index: Index<Doc>): Option.Option<{ readonly field: string; readonly seconds: number }> => {
  const [field] = Object.keys(index.keys)
  return index.expireAfterSeconds === undefined || field === undefined
    ? Option.none()
    : Option.some({ field, seconds: index.expireAfterSeconds })
}

/**
 * Deletes expired documents every `every`: the TTL index a server cannot keep itself (FerretDB answers 238 to
 * `expireAfterSeconds`, and the memory store has no background expiry).
 */
export const sweepExpired = <Doc>(
  indexes: ReadonlyArray<Index<Doc>>,
  deleteOlderThan: (field: string, cutoff: Date) => Effect.Effect<number, unknown>,
  every: `${number} ${"millis" | "seconds" | "minutes"}`
) =>
  Effect.forEach(indexes.flatMap((index) => Option.toArray(ttlField(index))), ({ field, seconds }) =>
    Clock.currentTimeMillis.pipe(
      Effect.flatMap((now) => deleteOlderThan(field, new Date(now - seconds * 1000))),
      Effect.catchAll((error) => Effect.logWarning("TTL sweep failed", error)),
      Effect.repeat(Schedule.spaced(every)),
      Effect.forkScoped
    ), { discard: true })

/** The in-memory `DocumentStore` of the embedded default. */
export const layerMemory: Layer.Layer<DocumentStore> = Layer.sync(DocumentStore, () => {
  const tables = new Map<string, Table>()
  const tableFor = <Doc extends Document, Encoded extends object>(spec: CollectionSpec<Doc, Encoded>): Table => {
    const existing = tables.get(spec.name)
    if (existing !== undefined) return existing
    const table: Table = {
      rows: new Map(),
      unique: spec.indexes.filter((index) => index.unique === true).map((index) => Object.keys(index.keys))
    }
    tables.set(spec.name, table)
    return table
  }
  return DocumentStore.of({
    kind: "memory",
    collection: (spec) =>
      Effect.gen(function*() {
        const table = tableFor(spec)
        yield* sweepExpired(spec.indexes, (field, cutoff) =>
          Effect.sync(() => {
            let deleted = 0
            for (const [id, row] of table.rows) {
              if (matches(row, { [field]: { $lt: cutoff } }) && table.rows.delete(id)) deleted++
            }
            return deleted
          }), "30 seconds")
        return makeCollection(spec, table)
      }),
    probe: Effect.void
  })
})
