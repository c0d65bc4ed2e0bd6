import { DomainEvent, type DomainEventEncoded } from "@herald/domain/Events"
import { Clock, Duration, Effect, Metric, Option, Queue, Schema, SubscriptionRef } from "effect"
import { Broker } from "./Broker.ts"
import type { KeyedLock } from "./KeyedLock.ts"
import * as Lease from "./Lease.ts"
import { forever } from "./Retry.ts"

/**
 * The transactional outbox. A write stores the events it causes in the same document (`outbox`, with
 * `outboxPending: true`), in one single-document update, so a write and its events commit together or not at all.
 * The relay publishes pending events to the topic exchange (routing key = event type) on a confirm channel and only
 * after the broker confirmed them clears them with a compare-and-set on the document's version (a document
 * written again meanwhile keeps its events, and they are published again: at-least-once, which consumers absorb by
 * event id). A broker outage only delays events.
 */

/** The stored form of the events in an outbox: their JSON encoding, still checked against the event schema. */
export const OutboxEvents = Schema.Array(Schema.encodedSchema(DomainEvent))

/** A document with pending events, as a relay sees it. */
export interface PendingDocument {
  readonly id: string
  readonly version: number
  readonly deleted: boolean
  readonly events: ReadonlyArray<DomainEventEncoded>
}

/** A collection whose documents carry an outbox. Its repository implements these against its own documents. */
export interface OutboxSource {
  readonly name: string
  /** Some documents with pending events. */
  readonly pending: (limit: number) => Effect.Effect<ReadonlyArray<PendingDocument>, unknown>
  /**
   * The document `id` if it has pending events: a lookup by `_id`, which every MongoDB-wire server answers without
   * a scan (FerretDB scans for any other filter). Lets the relay send a local write's events without a scan.
   */
  readonly pendingOne?: (id: string) => Effect.Effect<Option.Option<PendingDocument>, unknown>
  /**
   * After publishing: clears the outbox if the document is still at `version` (or removes it, when it was deleted
   * and its last events are out).
   */
  readonly settle: (doc: PendingDocument) => Effect.Effect<void, unknown>
}

export interface RelayOptions {
  readonly name: string
  readonly exchange: string
  readonly sources: ReadonlyArray<OutboxSource>
  /** The lock its sources' writers use: settling a document waits for a write in progress on it. */
  readonly lock: KeyedLock
  readonly batchSize?: number
  readonly idlePoll?: Duration.DurationInput
  /** How often the relay scans for pending documents while it is kept busy by local writes (default 1 s). */
  readonly scanEvery?: Duration.DurationInput
}

const published = Metric.counter("herald_outbox_published_total", { description: "Events published by outbox relays" })

/** Between rounds that failed (the broker refused or is down): back off, up to a few seconds. */
const failureBackoff = forever({ base: "100 millis", cap: "5 seconds" })

/**
 * Runs the relay until the scope closes. Only the copy holding the lease publishes. `nudge` wakes it at once after a
 * local write; `nudgeDocument` also names the written document, which the relay then fetches by id instead of
 * scanning. The scan still runs when idle and at least every `scanEvery` while busy: it picks up other copies'
 * writes and anything a crash left behind.
 */
export const run = (options: RelayOptions) =>
  Effect.gen(function*() {
    const broker = yield* Broker
    const lease = yield* Lease.hold(`outbox-relay:${options.name}`, { ttl: "10 seconds" })
    const wake = yield* Queue.sliding<void>(1)
    const batchSize = options.batchSize ?? 200
    const scanEveryMs = Duration.toMillis(options.scanEvery ?? "1 second")
    /** Documents written here since the last round, by source name. */
    const hints = new Map<string, Set<string>>()
    const hinted = () => [...hints.values()].reduce((total, ids) => total + ids.size, 0)
    let lastScan = 0

    const publish = (event: DomainEventEncoded) =>
      broker.publish({
        exchange: options.exchange,
        routingKey: event.type,
        body: JSON.stringify(event),
        messageId: event.id,
        type: event.type
      })

    // Publishes are issued in order on one confirm channel, so the events of each document leave in order; the
    // confirms are awaited together.
    const relay = (source: OutboxSource, doc: PendingDocument) =>
      Effect.forEach(doc.events, publish, { concurrency: "unbounded", discard: true }).pipe(
        Effect.zipRight(Metric.incrementBy(published, doc.events.length)),
        Effect.zipRight(options.lock.withLock(doc.id)(source.settle(doc)))
      )

    const scan = Effect.forEach(options.sources, (source) =>
      Effect.flatMap(source.pending(batchSize), (docs) =>
        Effect.as(Effect.forEach(docs, (doc) => relay(source, doc), { concurrency: "unbounded", discard: true }), docs.length))).pipe(
        Effect.map((counts) => counts.reduce((a, b) => a + b, 0))
      )

    /** The hinted documents, each fetched by id. */
    const relayHinted = Effect.suspend(() => {
      const taken = new Map(hints)
      hints.clear()
      return Effect.forEach(options.sources, (source) => {
        const ids = [...(taken.get(source.name) ?? [])]
        const lookup = source.pendingOne
        if (lookup === undefined) return Effect.succeed(0)
        return Effect.forEach(ids, (id) =>
          Effect.flatMap(lookup(id), Option.match({
            onNone: () => Effect.succeed(0),
            onSome: (doc) => Effect.as(relay(source, doc), 1)
          })), { concurrency: "unbounded" }).pipe(Effect.map((counts) => counts.reduce((a, b) => a + b, 0)))
      }).pipe(Effect.map((counts) => counts.reduce((a, b) => a + b, 0)))
    })

    const round = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const lookupOnly = hinted() > 0 && now - lastScan < scanEveryMs &&
        options.sources.every((source) => source.pendingOne !== undefined || !hints.has(source.name))
      if (lookupOnly) return yield* relayHinted
      lastScan = now
      hints.clear()
      return yield* scan
    })

    const idle = Duration.decode(options.idlePoll ?? "250 millis")
    yield* Effect.gen(function*() {
      if (!(yield* SubscriptionRef.get(lease.leading))) {
        hints.clear()
        return yield* Effect.sleep("1 second")
      }
      const relayed = yield* round
      // A full batch means more may be waiting: go again at once; otherwise wait to be nudged, or poll.
      if (relayed < batchSize && hints.size === 0) {
        const nudged = yield* Queue.take(wake).pipe(Effect.timeout(idle), Effect.option)
        // Woken by the idle timer: the next round is a scan.
        if (Option.isNone(nudged)) lastScan = 0
      }
    }).pipe(
      Effect.tapErrorCause((cause) => Effect.logWarning(`outbox relay ${options.name}: round failed; backing off`, cause)),
      Effect.retry(failureBackoff),
      Effect.forever,
      Effect.forkScoped
    )
    const nudge = Queue.offer(wake, undefined).pipe(Effect.asVoid)
    return {
      nudge,
      nudgeDocument: (source: string, id: string) =>
        Effect.suspend(() => {
          // Bounded: past it, the next scan finds the rest.
          if (hinted() < batchSize * 10) hints.set(source, (hints.get(source) ?? new Set<string>()).add(id))
          return nudge
        })
    }
  })
