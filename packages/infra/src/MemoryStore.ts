import { Effect, Layer, Option, Schema } from "effect"
import { Query } from "mingo"
import { update as applyModifier } from "mingo/updater"
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
import { sweepExpired } from "./Ttl.ts"

/**
 * The embedded store: MongoDB's query and update language by `mingo`, indexes kept as maps (unique ones checked by
 * lookup on every insert and update); each operation runs synchronously, so it is atomic as on MongoDB.
 */

type Row = Record<string, unknown>

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Date)

const isOperatorObject = (value: unknown): value is Record<string, unknown> =>
  isPlainObject(value) && Object.keys(value).length > 0 && Object.keys(value).every((key) => key.startsWith("$"))

const getPath = (doc: unknown, path: string): unknown => {
  let current: unknown = doc
  for (const part of path.split(".")) {
    if (!isPlainObject(current)) return undefined
    current = current[part]
  }
  return current
}

/** A value as an index key: dates by their time, missing as null (as MongoDB indexes a missing field). */
const keyOf = (value: unknown): string =>
  JSON.stringify(value instanceof Date ? { $date: value.getTime() } : value ?? null)


/** Herald's update document in mingo's terms: `$unset` takes "", `$setOnInsert` applies only when inserting. */
const modifierOf = (update: Row, inserting: boolean): Row => {
  const { $setOnInsert, $unset, ...rest } = update
  const set = inserting && isPlainObject($setOnInsert) ? { ...(isPlainObject(rest.$set) ? rest.$set : {}), ...$setOnInsert } : rest.$set
  return {
    ...rest,
    ...(set !== undefined ? { $set: set } : {}),
    ...(isPlainObject($unset) ? { $unset: Object.fromEntries(Object.keys($unset).map((path) => [path, ""])) } : {})
  }
}

const applyUpdate = (doc: Row, update: Row, inserting: boolean): void => {
  const modifier = modifierOf(update, inserting)
  // MongoDB lets `$set` repeat a document's own `_id` (an upsert's replacement fields do); mingo refuses any `_id`.
  const { $set, ...others } = modifier
  if (isPlainObject($set) && "_id" in $set) {
    const { _id, ...fields } = $set
    if (doc._id === undefined) doc._id = _id
    applyModifier(doc, { ...others, $set: fields }, undefined, undefined, { cloneMode: "deep" })
  } else {
    applyModifier(doc, modifier, undefined, undefined, { cloneMode: "deep" })
  }
}

/** The document an upsert starts from: the filter's equalities. */
const seedFromFilter = (filter: Row): Row => {
  const seed: Row = {}
  for (const [key, condition] of Object.entries(filter)) {
    if (key.startsWith("$")) continue
    const value = isOperatorObject(condition) ? condition.$eq : condition
    if (value === undefined) continue
    if (key === "_id") seed._id = value
    else applyModifier(seed, { $set: { [key]: structuredClone(value) } })
  }
  return seed
}

/** An index on its fields: documents by key, for lookups (the first field) and unique checks (all fields). */
interface IndexMap {
  readonly fields: ReadonlyArray<string>
  readonly unique: boolean
  readonly entries: Map<string, Set<string>>
}

/** The keys a row has in an index: one per element when its first field holds an array (a multikey index). */
const indexKeys = (index: IndexMap, row: Row): ReadonlyArray<string> => {
  if (index.unique && index.fields.length > 1) return [keyOf(index.fields.map((field) => getPath(row, field) ?? null))]
  const [first] = index.fields
  if (index.unique) return [keyOf(first === undefined ? undefined : getPath(row, first))]
  const value = first === undefined ? undefined : getPath(row, first)
  return Array.isArray(value) && value.length > 0 ? value.map(keyOf) : [keyOf(value)]
}

class Table {
  readonly rows = new Map<string, Row>()
  readonly indexes: ReadonlyArray<IndexMap>

  constructor(indexes: ReadonlyArray<Index<unknown>>) {
    this.indexes = indexes.map((index) => ({
      fields: Object.keys(index.keys),
      unique: index.unique === true,
      entries: new Map()
    }))
  }

  /** Whether writing `row` (replacing the row of the same id, if any) would break a unique index. */
  conflicts(row: Row): boolean {
    const id = String(row._id)
    return this.indexes.some((index) =>
      index.unique && indexKeys(index, row).some((key) => [...(index.entries.get(key) ?? [])].some((other) => other !== id))
    )
  }

  write(row: Row): void {
    const id = String(row._id)
    this.remove(id)
    this.rows.set(id, row)
    for (const index of this.indexes) {
      for (const key of indexKeys(index, row)) {
        const ids = index.entries.get(key) ?? new Set<string>()
        ids.add(id)
        index.entries.set(key, ids)
      }
    }
  }

  remove(id: string): boolean {
    const row = this.rows.get(id)
    if (row === undefined) return false
    for (const index of this.indexes) {
      for (const key of indexKeys(index, row)) {
        const ids = index.entries.get(key)
        ids?.delete(id)
        if (ids?.size === 0) index.entries.delete(key)
      }
    }
    return this.rows.delete(id)
  }

  /** The rows a filter can match: by `_id` or an index's first field when the filter names one exactly, else all. */
  candidates(filter: Row): Iterable<Row> {
    const exact = (value: unknown): value is string | number | boolean | Date =>
      typeof value === "string" || typeof value === "number" || typeof value === "boolean" || value instanceof Date
    const equality = (field: string): Option.Option<unknown> => {
      const condition = filter[field]
      const value = isOperatorObject(condition) && Object.keys(condition).length === 1 ? condition.$eq : condition
      return exact(value) ? Option.some(value) : Option.none()
    }
    const byId = equality("_id")
    if (Option.isSome(byId)) {
      const row = this.rows.get(String(byId.value))
      return row === undefined ? [] : [row]
    }
    for (const index of this.indexes) {
      const [first] = index.fields
      if (first === undefined || (index.unique && index.fields.length > 1)) continue
      const value = equality(first)
      if (Option.isSome(value)) {
        const ids = index.entries.get(keyOf(value.value)) ?? new Set<string>()
        return [...ids].flatMap((id) => Option.toArray(Option.fromNullable(this.rows.get(id))))
      }
    }
    return this.rows.values()
  }
}

const sortRows = (rows: Array<Row>, sort: Record<string, unknown> | undefined): Array<Row> =>
  sort === undefined || Object.keys(sort).length === 0 ? rows : new Query({}, {}).find<Row>(rows).sort(
    Object.fromEntries(Object.entries(sort).flatMap(([field, direction]) => direction === 1 || direction === -1 ? [[field, direction]] : []))
  ).all()

const makeCollection = <Doc extends Document, Encoded extends object>(spec: CollectionSpec<Doc, Encoded>, table: Table): Collection<Doc> => {
  const name = spec.name
  // As on MongoDB: documents are stored in their encoded form and decoded (defaults included) when read.
  const decode = Schema.decodeUnknownSync(spec.schema)
  const encode = Schema.encodeSync(spec.schema)
  const toDoc = (row: Row): Doc => decode(structuredClone(row))
  const toRow = (value: object): Row => ({ ...structuredClone(value) })
  const encodeDoc = (doc: Doc): Row => toRow(encode(doc))
  const query = (filter: object): Array<Row> => {
    const criteria = toRow(filter)
    const test = new Query(criteria, {})
    return [...table.candidates(criteria)].filter((row) => test.test(row))
  }
  const select = (filter: object, options: FindOptions<Doc> | undefined): Array<Row> => {
    const sorted = sortRows(query(filter), options?.sort)
    const skipped = options?.skip ? sorted.slice(options.skip) : sorted
    return options?.limit ? skipped.slice(0, options.limit) : skipped
  }
  const insert = (doc: Doc): boolean => {
    const row = encodeDoc(doc)
    if (table.rows.has(String(row._id)) || table.conflicts(row)) return false
    table.write(row)
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
    if (table.conflicts(draft)) return "duplicate"
    table.write(draft)
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
    countBy: (filter, field) =>
      Effect.sync(() => {
        const counts = new Map<unknown, number>()
        for (const row of query(filter)) {
          const value = row[field]
          if (value !== undefined && value !== null) counts.set(value, (counts.get(value) ?? 0) + 1)
        }
        return counts
      }),
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
    // All or nothing: a change that would break a unique index is a defect (as the MongoDB store reports it).
    updateMany: (filter, update) =>
      Effect.suspend(() => {
        const before = query(filter)
        const drafts = before.map((row) => {
          const draft = structuredClone(row)
          applyUpdate(draft, toRow(update), false)
          return draft
        })
        // Take the old versions out, then write the new ones one by one; on a clash put the old ones back.
        for (const row of before) table.remove(String(row._id))
        const written: Array<Row> = []
        const clash = drafts.some((draft) => {
          if (table.conflicts(draft)) return true
          table.write(draft)
          written.push(draft)
          return false
        })
        if (clash) {
          for (const row of written) table.remove(String(row._id))
          for (const row of before) table.write(row)
        }
        return clash ? Effect.die(new DuplicateKey({ collection: name })) : Effect.succeed(drafts.length)
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
        return row !== undefined && table.remove(String(row._id)) ? 1 : 0
      }),
    deleteMany: (filter) =>
      Effect.sync(() => {
        const rows = query(filter)
        for (const row of rows) table.remove(String(row._id))
        return rows.length
      })
  }
}

/** The in-memory `DocumentStore` of the embedded default. */
export const layerMemory: Layer.Layer<DocumentStore> = Layer.sync(DocumentStore, () => {
  const tables = new Map<string, Table>()
  const tableFor = <Doc extends Document, Encoded extends object>(spec: CollectionSpec<Doc, Encoded>): Table => {
    const existing = tables.get(spec.name)
    if (existing !== undefined) return existing
    const table = new Table(spec.indexes)
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
            const expired = new Query({ [field]: { $lt: cutoff } }, {})
            for (const [id, row] of [...table.rows]) {
              if (expired.test(row) && table.remove(id)) deleted++
            }
            return deleted
          }), "30 seconds")
        return makeCollection(spec, table)
      }),
    probe: Effect.void
  })
})
