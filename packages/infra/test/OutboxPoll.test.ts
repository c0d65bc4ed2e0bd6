import { describe, expect, it } from "@effect/vitest"
import type { DomainEventEncoded } from "@herald/domain/Events"
import { Duration, Effect, Layer, Ref, TestClock } from "effect"
import { Broker } from "../src/Broker.ts"
import * as KeyedLock from "../src/KeyedLock.ts"
import * as MemoryBroker from "../src/MemoryBroker.ts"
import * as MemoryStore from "../src/MemoryStore.ts"
import * as Outbox from "../src/Outbox.ts"

const exchange = "poll.events"

const event = (n: number): DomainEventEncoded => ({
  id: `01J00000000000000000000${String(n).padStart(3, "0")}`,
  type: "project.deleted",
  schemaVersion: 1,
  occurredAt: "2026-01-01T00:00:00.000Z",
  aggregateId: `project-${n}`,
  aggregateVersion: 1,
  userId: "user-1",
  data: { projectId: `project-${n}`, name: `project ${n}` }
})

/** Stands for writes made by another copy: documents appear without a nudge; every scan is counted. */
const makeSource = () => {
  const documents = new Map<string, Outbox.PendingDocument>()
  let scans = 0
  let settles = 0
  const source: Outbox.OutboxSource = {
    name: "projects",
    pending: (limit) =>
      Effect.sync(() => {
        scans += 1
        return [...documents.values()].slice(0, limit)
      }),
    settle: (docs) =>
      Effect.sync(() => {
        settles += 1
        for (const doc of docs) if (documents.get(doc.id)?.version === doc.version) documents.delete(doc.id)
      })
  }
  return {
    source,
    add: (n: number) => {
      const doc = { id: `project-${n}`, version: 1, deleted: false, events: [event(n)] }
      documents.set(doc.id, doc)
      return doc
    },
    /** Another write of a document: `doc` as now stored. */
    put: (doc: Outbox.PendingDocument) => {
      documents.set(doc.id, doc)
      return doc
    },
    isPending: (n: number) => documents.has(`project-${n}`),
    scans: () => scans,
    settles: () => settles
  }
}

/** Lets test time pass in small steps, so every fiber woken on the way runs before the next step. */
const advance = (millis: number) =>
  Effect.forEach(Array.from({ length: Math.ceil(millis / 50) }), () =>
    TestClock.adjust(Duration.millis(50)).pipe(Effect.zipRight(Effect.yieldNow())), { discard: true })

const scansDuring = (source: ReturnType<typeof makeSource>, millis: number) =>
  Effect.suspend(() => {
    const before = source.scans()
    return Effect.map(advance(millis), () => source.scans() - before)
  })

describe("outbox relay polling", () => {
  it.scoped("an idle relay scans four times a second after recent events and once a second after ten quiet seconds; another copy's write is found either way", () =>
    Effect.gen(function*() {
      const broker = yield* Broker
      yield* broker.declare({ exchanges: [{ name: exchange, type: "topic" }], queues: [] })
      const written = makeSource()
      yield* Outbox.run({ name: "poll-test", exchange, sources: [written.source], lock: yield* KeyedLock.make })
      yield* advance(500)

      // Published within a poll, then settled within `settleEvery` (1 s).
      written.add(1)
      yield* advance(1_500)
      expect(written.isPending(1)).toBe(false)
      const busyScans = yield* scansDuring(written, 2_000)
      expect(busyScans).toBeGreaterThanOrEqual(7)

      yield* advance(10_000)
      const quietScans = yield* scansDuring(written, 5_000)
      expect(quietScans).toBeGreaterThanOrEqual(4)
      expect(quietScans).toBeLessThanOrEqual(6)

      written.add(2)
      yield* advance(2_100)
      expect(written.isPending(2)).toBe(false)
      expect(yield* scansDuring(written, 2_000)).toBeGreaterThanOrEqual(7)
    }).pipe(Effect.provide(Layer.merge(MemoryBroker.layerMemory, MemoryStore.layerMemory))))

  it.scoped("writes handed to the relay are published without a scan each: while they flow it scans once a second and settles in batches", () =>
    Effect.gen(function*() {
      const broker = yield* Broker
      yield* broker.declare({ exchanges: [{ name: exchange, type: "topic" }], queues: [] })
      const written = makeSource()
      const relay = yield* Outbox.run({ name: "hint-test", exchange, sources: [written.source], lock: yield* KeyedLock.make })
      yield* advance(500)

      const scansBefore = written.scans()
      const settlesBefore = written.settles()
      // Three writes per 50 ms for three seconds, each handed over as it is made (several nudges per round).
      for (let step = 0; step < 60; step++) {
        for (let n = step * 3; n < step * 3 + 3; n++) yield* relay.nudgeDocument("projects", written.add(n))
        yield* advance(50)
      }
      expect(written.scans() - scansBefore).toBeLessThanOrEqual(4)
      expect(written.settles() - settlesBefore).toBeLessThanOrEqual(4)
      yield* advance(1_500)
      expect(Array.from({ length: 180 }, (_, n) => written.isPending(n)).filter(Boolean)).toEqual([])
    }).pipe(Effect.provide(Layer.merge(MemoryBroker.layerMemory, MemoryStore.layerMemory))))

  it.scoped("an event already confirmed and not yet settled is not published again when the document's next write hands over both", () =>
    Effect.gen(function*() {
      const sent = yield* Ref.make<ReadonlyArray<string>>([])
      const counting = Layer.effect(
        Broker,
        Effect.map(Broker, (broker) => ({
          ...broker,
          publish: (message: Parameters<typeof broker.publish>[0]) =>
            Effect.zipRight(Ref.update(sent, (ids) => [...ids, message.messageId ?? ""]), broker.publish(message))
        }))
      ).pipe(Layer.provide(MemoryBroker.layerMemory))
      yield* Effect.gen(function*() {
        const broker = yield* Broker
        yield* broker.declare({ exchanges: [{ name: exchange, type: "topic" }], queues: [] })
        const written = makeSource()
        const relay = yield* Outbox.run({ name: "again-test", exchange, sources: [written.source], lock: yield* KeyedLock.make })
        yield* advance(500)
        const first = written.add(1)
        yield* relay.nudgeDocument("projects", first)
        yield* advance(100)
        // Written again before the first write was settled (settling waits up to a second): its outbox holds both.
        const second = written.put({ ...first, version: 2, events: [...first.events, { ...event(2), aggregateId: first.id, aggregateVersion: 2 }] })
        yield* relay.nudgeDocument("projects", second)
        yield* advance(1_500)
        expect(yield* Ref.get(sent)).toEqual(second.events.map((e) => e.id))
        expect(written.isPending(1)).toBe(false)
      }).pipe(Effect.provide(counting))
    }).pipe(Effect.provide(MemoryStore.layerMemory)))
})
