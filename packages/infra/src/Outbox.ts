import type { DependencyUnavailable } from "@herald/domain/Errors"
import { DomainEvent, type DomainEventEncoded } from "@herald/domain/Events"
import { Clock, Data, Duration, Effect, Metric, Option, Queue, Schema, SubscriptionRef } from "effect"
import { Broker } from "./Broker.ts"
import type { KeyedLock } from "./KeyedLock.ts"
import * as Lease from "./Lease.ts"
import { forever } from "./Retry.ts"
import type { DuplicateKey, Filter, Update } from "./Store.ts"

/**
 * The transactional outbox: a write records its events in the document it changes, in one compare-and-set; the relay
 * publishes them with confirms and settles them with another (packages/infra/README.md, "The outbox").
 */

/** The stored form of the events in an outbox: their JSON encoding, still checked against the event schema. */
export const OutboxEvents = Schema.Array(Schema.encodedSchema(DomainEvent))

/** The fields of a document that records its writes' events: spread them into its schema. */
export const outboxFields = { version: Schema.Int, outbox: OutboxEvents, outboxPending: Schema.Boolean }

/** A document with an outbox, as the shared operations below see it. */
export interface OutboxDocument<Id extends string> {
  readonly _id: Id
  readonly version: number
  readonly outbox: ReadonlyArray<DomainEventEncoded>
  readonly outboxPending: boolean
}

/** A versioned write found its document at another version than the one its writer read (or gone). */
export class VersionMoved extends Data.TaggedError("VersionMoved")<{
  readonly collection: string
  readonly id: string
  readonly expected: number
}> {}

/** A document with pending events, as a relay sees it. */
export interface PendingDocument {
  readonly id: string
  readonly version: number
  readonly deleted: boolean
  readonly events: ReadonlyArray<DomainEventEncoded>
}

/** A collection whose writes carry events in its documents' outbox. */
export interface OutboxSource {
  readonly name: string
  /** Some documents with pending events. */
  readonly pending: (limit: number) => Effect.Effect<ReadonlyArray<PendingDocument>, unknown>
  /**
   * After publishing: clears the outbox of each document still at its `version` (or removes it, when it was deleted
   * and its last events are out), in as few writes as the store allows.
   */
  readonly settle: (docs: ReadonlyArray<PendingDocument>) => Effect.Effect<void, unknown>
}

/** The documents of one version among those settled at once: a branch of a settle filter's `$or`. */
export type VersionBranch<Id extends string> = {
  readonly _id: { readonly $in: ReadonlyArray<Id> }
  readonly version: number
}

/** One branch per version among `docs` (new documents are all at 1), so that a batch is one compare-and-set write. */
const versionBranches = <Id extends string>(
  docs: ReadonlyArray<PendingDocument>,
  isId: (id: string) => id is Id
): ReadonlyArray<VersionBranch<Id>> => {
  const groups = new Map<number, Array<Id>>()
  for (const doc of docs) {
    if (!isId(doc.id)) continue
    const ids = groups.get(doc.version) ?? []
    ids.push(doc.id)
    groups.set(doc.version, ids)
  }
  return [...groups].map(([version, ids]) => ({ _id: { $in: ids }, version }))
}

/** A document as its repository builds it; `documents(...).insert` adds the outbox. */
export type WithoutOutbox<Doc> = Omit<Doc, "outbox" | "outboxPending">

/** What the shared operations need of a collection (a `Collection` of any outbox document is one). */
export interface OutboxCollection<Id extends string, Doc extends OutboxDocument<Id>> {
  readonly name: string
  readonly insertOne: (
    doc: WithoutOutbox<Doc> & Pick<OutboxDocument<Id>, "outbox" | "outboxPending">
  ) => Effect.Effect<void, DuplicateKey | DependencyUnavailable>
  readonly find: (
    filter: Filter<OutboxDocument<Id>>,
    options: { readonly limit: number }
  ) => Effect.Effect<ReadonlyArray<Doc>, DependencyUnavailable>
  readonly findOneAndUpdate: (
    filter: Filter<OutboxDocument<Id>>,
    update: Update<OutboxDocument<Id>>,
    options: { readonly returnDocument: "after" }
  ) => Effect.Effect<Option.Option<Doc>, DuplicateKey | DependencyUnavailable>
  readonly updateMany: (filter: Filter<OutboxDocument<Id>>, update: Update<OutboxDocument<Id>>) => Effect.Effect<number, DependencyUnavailable>
}

/**
 * The outbox operations of a collection: its versioned write, its relay source, and what a writer hands the relay.
 * `deleted` tells a deleted document; with `remove`, settling removes such documents instead of clearing them.
 */
export const documents = <Id extends string, Doc extends OutboxDocument<Id>>(
  collection: OutboxCollection<Id, Doc>,
  options: {
    readonly isId: (id: string) => id is Id
    readonly deleted?: (doc: Doc) => boolean
    readonly remove?: (settled: ReadonlyArray<VersionBranch<Id>>) => Effect.Effect<unknown, DependencyUnavailable>
  }
) => {
  const pendingOf = (doc: Doc): PendingDocument => ({
    id: doc._id,
    version: doc.version,
    deleted: options.deleted?.(doc) ?? false,
    events: doc.outbox
  })
  const { remove } = options
  return {
    pendingOf,
    /** Stores a new document with `events` in its outbox, in one write; the document as written, or `DuplicateKey`. */
    insert: (fields: WithoutOutbox<Doc>, events: ReadonlyArray<DomainEventEncoded>) => {
      const doc = { ...fields, outbox: events, outboxPending: events.length > 0 }
      return Effect.as(collection.insertOne(doc), doc)
    },
    /**
     * Sets `fields` on the document if it is still at `expectedVersion`, moves it to the next version and records
     * `events` in its outbox, in one write; the document as written, or `VersionMoved`.
     */
    write: (id: Id, expectedVersion: number, fields: Update<Doc>["$set"], events: ReadonlyArray<DomainEventEncoded>) =>
      collection.findOneAndUpdate(
        { _id: id, version: expectedVersion },
        events.length === 0
          ? { $set: { ...fields, version: expectedVersion + 1 } }
          : { $set: { ...fields, version: expectedVersion + 1, outboxPending: true }, $push: { outbox: { $each: events } } },
        { returnDocument: "after" }
      ).pipe(
        Effect.catchTag("DuplicateKey", (error) => Effect.die(error)),
        Effect.flatMap(Option.match({
          onNone: () => Effect.fail(new VersionMoved({ collection: collection.name, id, expected: expectedVersion })),
          onSome: Effect.succeed
        }))
      ),
    source: (name: string): OutboxSource => ({
      name,
      pending: (limit) => Effect.map(collection.find({ outboxPending: true }, { limit }), (docs) => docs.map(pendingOf)),
      settle: (docs) =>
        Effect.gen(function*() {
          const gone = remove === undefined ? [] : versionBranches(docs.filter((doc) => doc.deleted), options.isId)
          if (remove !== undefined && gone.length > 0) yield* remove(gone)
          const kept = versionBranches(remove === undefined ? docs : docs.filter((doc) => !doc.deleted), options.isId)
          // `outboxPending` changes nothing on MongoDB; FerretDB pushes that equality down (not `$in`), so it reads
          // only pending documents instead of the whole collection (100 settled of 15,000: 104 ms against 818 ms).
          if (kept.length > 0) yield* collection.updateMany({ outboxPending: true, $or: kept }, { $set: { outbox: [], outboxPending: false } })
        })
    })
  }
}

/** Pending documents by source name, then id, holding the newest version seen of each. */
const newestPending = () => {
  const bySource = new Map<string, Map<string, PendingDocument>>()
  return {
    /** The documents of `source` (an empty map when there are none). */
    of: (source: string): Map<string, PendingDocument> => bySource.get(source) ?? new Map<string, PendingDocument>(),
    /** The version held for `id`, or -1. */
    versionOf: (source: string, id: string) => bySource.get(source)?.get(id)?.version ?? -1,
    put: (source: string, doc: PendingDocument) => {
      const docs = bySource.get(source) ?? new Map<string, PendingDocument>()
      if ((docs.get(doc.id)?.version ?? -1) < doc.version) docs.set(doc.id, doc)
      bySource.set(source, docs)
    },
    count: () => [...bySource.values()].reduce((total, docs) => total + docs.size, 0),
    clear: () => bySource.clear()
  }
}

export interface RelayOptions {
  readonly name: string
  readonly exchange: string
  readonly sources: ReadonlyArray<OutboxSource>
  /** The lock its sources' writers use: settling a document waits for a write in progress on it. */
  readonly lock: KeyedLock
  readonly batchSize?: number
  /**
   * How long an idle relay waits before it scans: `idlePoll` (250 ms) within `quietAfter` (10 s) of relaying, then
   * `quietPoll` (1 s), so an idle process can give memory back (README, Performance). Local writes nudge it at once.
   */
  readonly idlePoll?: Duration.DurationInput
  readonly quietPoll?: Duration.DurationInput
  readonly quietAfter?: Duration.DurationInput
  /** How often the relay scans for pending documents while it is kept busy by local writes (default 1 s). */
  readonly scanEvery?: Duration.DurationInput
  /**
   * How long published documents may wait to be settled while fewer than a batch wait (1 s): one write per batch;
   * a crash in between only publishes them again.
   */
  readonly settleEvery?: Duration.DurationInput
}

const published = Metric.counter("herald_outbox_published_total", { description: "Events published by outbox relays" })

/** Between rounds that failed (the broker refused or is down): back off, up to a few seconds. */
const failureBackoff = forever({ base: "100 millis", cap: "5 seconds" })

/**
 * Runs the relay until the scope closes; only the lease holder publishes. `nudgeDocument` hands it a document just
 * written here, published at once without a read; scans find other copies' writes and what a crash left.
 */
export const run = (options: RelayOptions) =>
  Effect.gen(function*() {
    const broker = yield* Broker
    const lease = yield* Lease.hold(`outbox-relay:${options.name}`, { ttl: "10 seconds" })
    const wake = yield* Queue.sliding<void>(1)
    const batchSize = options.batchSize ?? 200
    const scanEveryMs = Duration.toMillis(options.scanEvery ?? "1 second")
    /** Documents written here since the last round: the newest pending state of each. */
    const hints = newestPending()
    let lastScan = 0
    /**
     * The next round scans: after the idle poll, a hint past the bound, or a full batch.
     */
    let scanRequested = false

    const publish = (event: DomainEventEncoded) =>
      broker.publish({
        exchange: options.exchange,
        routingKey: event.type,
        body: JSON.stringify(event),
        messageId: event.id,
        type: event.type
      })

    /**
     * Published and waiting to be settled (by a separate fiber, a batch at a time); scans skip them meanwhile.
     */
    const unsettled = newestPending()
    const settleWake = yield* Queue.sliding<void>(1)
    /** Past this many, publishing waits for settling to catch up (memory stays bounded). */
    const unsettledLimit = batchSize * 50
    const isUnsettled = (source: OutboxSource, doc: PendingDocument) => unsettled.versionOf(source.name, doc.id) >= doc.version

    /** A document's events, less those confirmed at an earlier version and not yet settled (a write soon after another). */
    const unpublished = (source: OutboxSource, doc: PendingDocument) => {
      const sent = unsettled.of(source.name).get(doc.id)
      if (sent === undefined) return doc.events
      const ids = new Set(sent.events.map((event) => event.id))
      return doc.events.filter((event) => !ids.has(event.id))
    }

    // Publishes are issued in order on one confirm channel, so the events of each document leave in order; the
    // confirms are awaited together. Then the batch is handed to the settler.
    const relay = (source: OutboxSource, docs: ReadonlyArray<PendingDocument>) =>
      docs.length === 0 ? Effect.succeed(0) : Effect.suspend(() => {
        const outgoing = docs.map((doc) => unpublished(source, doc))
        return Effect.forEach(outgoing, (events) => Effect.forEach(events, publish, { concurrency: "unbounded", discard: true }), {
          concurrency: "unbounded",
          discard: true
        }).pipe(
          Effect.zipRight(Metric.incrementBy(published, outgoing.reduce((total, events) => total + events.length, 0))),
          Effect.zipRight(Effect.sync(() => docs.forEach((doc) => unsettled.put(source.name, doc)))),
          Effect.zipRight(Queue.offer(settleWake, undefined)),
          Effect.as(docs.length)
        )
      })

    /** Settles up to `settleBatch` documents of each source, waiting for writes in progress on them. */
    const settleBatch = batchSize
    const settleEvery = Duration.decode(options.settleEvery ?? "1 second")
    const settleSome = Effect.forEach(options.sources, (source) => {
      const waiting = unsettled.of(source.name)
      if (waiting.size === 0) return Effect.void
      const batch = [...waiting.values()].slice(0, settleBatch)
      return options.lock.withLocks(batch.map((doc) => doc.id))(source.settle(batch)).pipe(
        Effect.zipRight(Effect.sync(() => {
          // A document published again meanwhile at a newer version stays for the next batch.
          for (const doc of batch) if (waiting.get(doc.id)?.version === doc.version) waiting.delete(doc.id)
        }))
      )
    }, { discard: true })

    yield* Effect.gen(function*() {
      if (unsettled.count() === 0) yield* Queue.take(settleWake)
      // Lets a batch gather, unless one already has.
      if (unsettled.count() < settleBatch) yield* Effect.sleep(settleEvery)
      yield* settleSome
    }).pipe(
      Effect.tapErrorCause((cause) => Effect.logWarning(`outbox relay ${options.name}: settling failed; backing off`, cause)),
      Effect.retry(failureBackoff),
      Effect.forever,
      Effect.forkScoped
    )

    const sum = (counts: ReadonlyArray<number>) => counts.reduce((a, b) => a + b, 0)

    const scan = Effect.map(
      Effect.forEach(options.sources, (source) => {
        const held = (id: string, version: number) =>
          unsettled.versionOf(source.name, id) >= version || hints.versionOf(source.name, id) >= version
        return Effect.flatMap(
          source.pending(batchSize + unsettled.of(source.name).size + hints.of(source.name).size),
          (docs) => relay(source, docs.filter((doc) => !held(doc.id, doc.version)).slice(0, batchSize))
        )
      }),
      sum
    )

    /** Up to a batch of the hinted documents, as their writers described them; the rest wait for the next round. */
    const relayHinted = Effect.suspend(() => {
      let room = batchSize
      return Effect.map(
        Effect.forEach(options.sources, (source) => {
          const waiting = hints.of(source.name)
          const taken: Array<PendingDocument> = []
          for (const [id, doc] of waiting) {
            if (room === 0) break
            if (!isUnsettled(source, doc)) taken.push(doc)
            waiting.delete(id)
            room -= 1
          }
          return relay(source, taken)
        }),
        sum
      )
    })

    const round = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      // Woken with nothing handed over (several nudges before the round ran leave a spare wake-up): nothing to scan for.
      if (!scanRequested && now - lastScan < scanEveryMs) return yield* relayHinted
      lastScan = now
      scanRequested = false
      // What was handed over first, then the scan, which skips whatever the relay holds.
      const handed = yield* relayHinted
      const found = yield* scan
      // A full batch: more are waiting (a backlog after a restart, say); the next round scans again at once.
      if (found >= batchSize) scanRequested = true
      return handed + found
    })

    const idle = Duration.decode(options.idlePoll ?? "250 millis")
    const quiet = Duration.decode(options.quietPoll ?? "1 second")
    const quietAfterMs = Duration.toMillis(options.quietAfter ?? "10 seconds")
    let lastRelayed = 0
    yield* Effect.gen(function*() {
      if (!(yield* SubscriptionRef.get(lease.leading))) {
        hints.clear()
        return yield* Effect.sleep("1 second")
      }
      if (unsettled.count() >= unsettledLimit) return yield* Effect.sleep("50 millis")
      const relayed = yield* round
      const now = yield* Clock.currentTimeMillis
      if (relayed > 0) lastRelayed = now
      // A full batch means more may be waiting: go again at once; otherwise wait to be nudged, or poll.
      if (relayed < batchSize && hints.count() === 0) {
        const poll = now - lastRelayed > quietAfterMs ? quiet : idle
        const nudged = yield* Queue.take(wake).pipe(Effect.timeout(poll), Effect.option)
        // Woken by the idle timer: the next round is a scan.
        if (Option.isNone(nudged)) scanRequested = true
      }
    }).pipe(
      Effect.tapErrorCause((cause) => Effect.logWarning(`outbox relay ${options.name}: round failed; backing off`, cause)),
      Effect.retry(failureBackoff),
      Effect.forever,
      Effect.forkScoped
    )
    const wakeUp = Queue.offer(wake, undefined).pipe(Effect.asVoid)
    return {
      /** After a local write of `doc` in `source`: what its outbox now holds, at the version written. */
      nudgeDocument: (source: string, doc: PendingDocument) =>
        Effect.suspend(() => {
          // Bounded: past it, a scan finds the rest.
          if (hints.versionOf(source, doc.id) >= 0 || hints.count() < batchSize * 10) hints.put(source, doc)
          else scanRequested = true
          return wakeUp
        })
    }
  })
