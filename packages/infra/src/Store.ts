import type { DependencyUnavailable } from "@herald/domain/Errors"
import { Context, Data, type Effect, type Option, type Schema, type Scope } from "effect"

/**
 * The MongoDB subset Herald relies on, on MongoDB (and FerretDB) and in memory. Claims are unique-index inserts;
 * compare-and-sets are atomic on MongoDB and in memory but not on FerretDB v1, hence one writer per key (FERRETDB.md).
 */

export interface Document {
  readonly _id: string
}

type Scalar = string | number | boolean | Date | null

export interface Operators<V> {
  readonly $eq?: V
  readonly $ne?: V | null
  readonly $in?: ReadonlyArray<V>
  readonly $nin?: ReadonlyArray<V>
  readonly $lt?: V & Scalar
  readonly $lte?: V & Scalar
  readonly $gt?: V & Scalar
  readonly $gte?: V & Scalar
  readonly $exists?: boolean
}

type DottedPath = `${string}.${string}`

/** The element type of an array field (never for other fields). */
type ElementOf<V> = V extends ReadonlyArray<infer E> ? E : never

/**
 * A query on the fields of `Doc`; dotted paths reach into embedded documents. As in MongoDB, an array field also
 * matches an element (`{ memberIds: userId }`: the documents whose `memberIds` holds `userId`).
 */
export type Filter<Doc> =
  & { readonly [K in keyof Doc]?: Doc[K] | null | Operators<Doc[K]> | ElementOf<Doc[K]> | Operators<ElementOf<Doc[K]>> }
  & { readonly [path: DottedPath]: unknown }
  & { readonly $or?: ReadonlyArray<Filter<Doc>>; readonly $and?: ReadonlyArray<Filter<Doc>> }

export interface Update<Doc> {
  readonly $set?: { readonly [K in keyof Doc]?: Doc[K] } & { readonly [path: DottedPath]: unknown }
  readonly $unset?: { readonly [K in keyof Doc]?: true } & { readonly [path: DottedPath]: true }
  readonly $inc?: { readonly [K in keyof Doc]?: number } & { readonly [path: DottedPath]: number }
  readonly $push?: { readonly [K in keyof Doc]?: { readonly $each: ReadonlyArray<unknown> } }
  readonly $setOnInsert?: { readonly [K in keyof Doc]?: Doc[K] }
}

export type Sort<Doc> = { readonly [K in keyof Doc]?: 1 | -1 }

export interface Index<Doc> {
  readonly keys: Sort<Doc>
  readonly unique?: boolean
  /** A TTL index: documents expire this long after the date in the (single) key field. */
  readonly expireAfterSeconds?: number
}

/**
 * A collection: its name, the schema of its documents and its indexes. Documents are stored in the schema's encoded
 * form, and filters and updates are written against the decoded form, so a document schema keeps both the same
 * (branded strings, `Schema.DateFromSelf`): what a filter says is what the server compares.
 */
export interface CollectionSpec<Doc extends Document, Encoded extends object> {
  readonly name: string
  readonly schema: Schema.Schema<Doc, Encoded>
  readonly indexes: ReadonlyArray<Index<Doc>>
  /** Indexes of earlier builds to drop, by their server names (e.g. `eventId_1`): a unique key that has changed. */
  readonly dropIndexes?: ReadonlyArray<string>
}

/** A unique index refused a write. The caller lost a claim or met an existing key. */
export class DuplicateKey extends Data.TaggedError("DuplicateKey")<{ readonly collection: string }> {}

export interface FindOptions<Doc> {
  readonly sort?: Sort<Doc>
  readonly limit?: number
  readonly skip?: number
}

export interface Collection<Doc extends Document> {
  readonly name: string
  readonly insertOne: (doc: Doc) => Effect.Effect<void, DuplicateKey | DependencyUnavailable>
  /**
   * Unordered: every document that does not break a unique index is inserted; `duplicates` lists the positions (in
   * `docs`) of those that did, ascending.
   */
  readonly insertMany: (
    docs: ReadonlyArray<Doc>
  ) => Effect.Effect<{ readonly inserted: number; readonly duplicates: ReadonlyArray<number> }, DependencyUnavailable>
  readonly findOne: (filter: Filter<Doc>) => Effect.Effect<Option.Option<Doc>, DependencyUnavailable>
  readonly find: (
    filter: Filter<Doc>,
    options?: FindOptions<Doc>
  ) => Effect.Effect<ReadonlyArray<Doc>, DependencyUnavailable>
  readonly count: (filter: Filter<Doc>) => Effect.Effect<number, DependencyUnavailable>
  /** The documents that match `filter`, counted by their value of `field` in one query (values with none are absent). */
  readonly countBy: (filter: Filter<Doc>, field: keyof Doc & string) => Effect.Effect<ReadonlyMap<unknown, number>, DependencyUnavailable>
  /** Applies `update` to the first match; `matched` is 0 when nothing matched (a lost compare-and-set). */
  readonly updateOne: (
    filter: Filter<Doc>,
    update: Update<Doc>,
    options?: { readonly upsert?: boolean }
  ) => Effect.Effect<{ readonly matched: number; readonly upserted: boolean }, DuplicateKey | DependencyUnavailable>
  readonly updateMany: (filter: Filter<Doc>, update: Update<Doc>) => Effect.Effect<number, DependencyUnavailable>
  readonly findOneAndUpdate: (
    filter: Filter<Doc>,
    update: Update<Doc>,
    options: { readonly returnDocument: "before" | "after"; readonly upsert?: boolean; readonly sort?: Sort<Doc> }
  ) => Effect.Effect<Option.Option<Doc>, DuplicateKey | DependencyUnavailable>
  readonly deleteOne: (filter: Filter<Doc>) => Effect.Effect<number, DependencyUnavailable>
  readonly deleteMany: (filter: Filter<Doc>) => Effect.Effect<number, DependencyUnavailable>
}

export class DocumentStore extends Context.Tag("Herald/DocumentStore")<DocumentStore, {
  readonly kind: "mongodb" | "memory"
  /** Opens a collection, creating its indexes; TTL indexes the server cannot keep become a periodic sweep. */
  readonly collection: <Doc extends Document, Encoded extends object>(
    spec: CollectionSpec<Doc, Encoded>
  ) => Effect.Effect<Collection<Doc>, DependencyUnavailable, Scope.Scope>
  readonly probe: Effect.Effect<void, DependencyUnavailable>
}>() {}
