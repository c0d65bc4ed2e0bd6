import { describe, expect, it } from "@effect/vitest"
import type { DomainEventEncoded } from "@herald/domain/Events"
import { Duration, Effect, Layer, TestClock } from "effect"
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
  const source: Outbox.OutboxSource = {
    name: "projects",
    pending: (limit) =>
      Effect.sync(() => {
        scans += 1
        return [...documents.values()].slice(0, limit)
      }),
    settle: (docs) =>
      Effect.sync(() => {
        for (const doc of docs) if (documents.get(doc.id)?.version === doc.version) documents.delete(doc.id)
      })
  }
  return {
    source,
    add: (n: number) => documents.set(`project-${n}`, { id: `project-${n}`, version: 1, deleted: false, events: [event(n)] }),
    isPending: (n: number) => documents.has(`project-${n}`),
    scans: () => scans
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

      written.add(1)
      yield* advance(500)
      expect(written.isPending(1)).toBe(false)
      const busyScans = yield* scansDuring(written, 2_000)
      expect(busyScans).toBeGreaterThanOrEqual(7)

      yield* advance(10_000)
      const quietScans = yield* scansDuring(written, 5_000)
      expect(quietScans).toBeGreaterThanOrEqual(4)
      expect(quietScans).toBeLessThanOrEqual(6)

      written.add(2)
      yield* advance(1_050)
      expect(written.isPending(2)).toBe(false)
      expect(yield* scansDuring(written, 2_000)).toBeGreaterThanOrEqual(7)
    }).pipe(Effect.provide(Layer.merge(MemoryBroker.layerMemory, MemoryStore.layerMemory))))
})
