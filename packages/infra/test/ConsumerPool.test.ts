import { describe, expect, layer } from "@effect/vitest"
import { unavailable } from "@herald/domain/Errors"
import { servers, uniqueName } from "@herald/testing/Env"
import { Chunk, Data, Duration, Effect, type Layer, Redacted, Ref, Stream } from "effect"
import * as Amqp from "../src/Amqp.ts"
import { Broker } from "../src/Broker.ts"
import * as ConsumerPool from "../src/ConsumerPool.ts"
import * as MemoryBroker from "../src/MemoryBroker.ts"
import { consumerQueues } from "../src/Topology.ts"

class Transient extends Data.TaggedError("Transient")<{ readonly message: string }> {}

const setup = (label: string) =>
  Effect.gen(function*() {
    const broker = yield* Broker
    const exchange = uniqueName(`${label}_x`)
    const queues = consumerQueues(uniqueName(label), [{ exchange, pattern: "#" }], { retryDelaysMs: [100, 200] })
    yield* broker.declare({ exchanges: [{ name: exchange, type: "topic" }], queues: queues.queues })
    const publish = (key: string, body: Record<string, unknown>, id: string) =>
      broker.publish({ exchange, routingKey: "test.event", body: JSON.stringify({ key, ...body }), messageId: id })
    return { broker, queues, publish }
  })

const keyOf = (delivery: { readonly body: string }) => {
  const parsed: unknown = JSON.parse(delivery.body)
  return typeof parsed === "object" && parsed !== null && "key" in parsed && typeof parsed.key === "string" ? parsed.key : undefined
}

const field = (body: string, name: string): unknown => {
  const parsed: unknown = JSON.parse(body)
  return typeof parsed === "object" && parsed !== null && name in parsed ? Reflect.get(parsed, name) : undefined
}

const poll = <A>(read: Effect.Effect<A>, done: (a: A) => boolean) =>
  Effect.gen(function*() {
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      const value = yield* read
      if (done(value)) return value
      yield* Effect.sleep("25 millis")
    }
    return yield* Effect.dieMessage("condition not reached within 20 s")
  })

const suite = (name: string, broker: Layer.Layer<Broker, unknown>) =>
  layer(broker, { timeout: Duration.seconds(30), excludeTestServices: true })(`ConsumerPool on ${name}`, (it) => {
    it.scoped("handles every message once, in order per key, with keys in parallel", () =>
      Effect.gen(function*() {
        const { publish, queues } = yield* setup("order")
        const seen = yield* Ref.make<ReadonlyArray<readonly [string, number]>>([])
        const pool = yield* ConsumerPool.run({
          name: "order",
          queues,
          prefetch: 20,
          workers: 4,
          mailboxSize: 4,
          maxAttempts: 3,
          keyOf,
          handle: (d) =>
            Effect.sleep(Duration.millis(Math.random() * 3)).pipe(
              Effect.zipRight(Ref.update(seen, (all) => [...all, [String(keyOf(d)), Number(field(d.body, "seq"))] as const]))
            )
        })
        const keys = Array.from({ length: 10 }, (_, i) => `user-${i}`)
        yield* Effect.forEach(Array.from({ length: 30 }, (_, seq) => seq), (seq) =>
          Effect.forEach(keys, (key) => publish(key, { seq }, `${key}-${seq}`)), { discard: true })
        yield* poll(pool.stats, (s) => s.handled === 300)
        const all = yield* Ref.get(seen)
        expect(all).toHaveLength(300)
        for (const key of keys) {
          expect(all.filter(([k]) => k === key).map(([, seq]) => seq)).toEqual(Array.from({ length: 30 }, (_, i) => i))
        }
      }))

    it.scoped("a dependency outage holds the message without using up its attempts: nothing is retried or parked", () =>
      Effect.gen(function*() {
        const { publish, queues } = yield* setup("outage")
        const calls = yield* Ref.make(0)
        const stored = yield* Ref.make<ReadonlyArray<string>>([])
        const pool = yield* ConsumerPool.run({
          name: "outage",
          queues,
          prefetch: 8,
          workers: 2,
          mailboxSize: 4,
          maxAttempts: 2,
          keyOf,
          // The database is down for the first four calls, twice `maxAttempts`.
          handle: (d) =>
            Ref.updateAndGet(calls, (n) => n + 1).pipe(
              Effect.flatMap((n) =>
                n <= 4
                  ? Effect.fail(unavailable("mongodb"))
                  : Ref.update(stored, (all) => [...all, String(field(d.body, "seq"))])
              )
            )
        })
        yield* Effect.forEach([1, 2, 3], (seq) => publish("ann", { seq }, `outage-${seq}`), { discard: true })
        const stats = yield* poll(pool.stats, (s) => s.handled === 3)
        expect(stats.retried).toBe(0)
        expect(stats.deadLettered).toBe(0)
        expect(yield* Ref.get(stored)).toEqual(["1", "2", "3"])
      }))

    it.scoped("a failing message is retried after delays, then parked with its reason; the rest keep flowing", () =>
      Effect.gen(function*() {
        const { broker, publish, queues } = yield* setup("retry")
        const attempts = yield* Ref.make(0)
        const pool = yield* ConsumerPool.run({
          name: "retry",
          queues,
          prefetch: 10,
          workers: 2,
          mailboxSize: 2,
          maxAttempts: 3,
          keyOf,
          handle: (d) =>
            field(d.body, "bad") === true
              ? Ref.update(attempts, (n) => n + 1).pipe(Effect.zipRight(Effect.fail(new Transient({ message: "store is down" }))))
              : Effect.void
        })
        const started = Date.now()
        yield* publish("a", { bad: true }, "bad-1")
        yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) => publish("b", { i }, `good-${i}`))
        const dead = yield* broker.consume(queues.dlq, { prefetch: 5 })
        const [parked] = yield* Stream.runCollect(Stream.take(dead.deliveries, 1)).pipe(Effect.map(Chunk.toArray))
        expect(parked?.messageId).toBe("bad-1")
        expect(parked?.headers["x-attempts"]).toBe(3)
        expect(String(parked?.headers["x-death-reason"])).toContain("store is down")
        expect(yield* Ref.get(attempts)).toBe(3)
        // Two retries waited 100 ms and 200 ms in the retry queues.
        expect(Date.now() - started).toBeGreaterThanOrEqual(250)
        const stats = yield* poll(pool.stats, (s) => s.handled === 20 && s.deadLettered === 1)
        expect(stats).toMatchObject({ retried: 2, deadLettered: 1, inFlight: 0, queued: 0 })
        yield* parked?.ack ?? Effect.void
      }))

    it.scoped("a message that cannot be understood goes straight to the dead-letter queue", () =>
      Effect.gen(function*() {
        const { broker, publish, queues } = yield* setup("poison")
        yield* ConsumerPool.run({
          name: "poison",
          queues,
          prefetch: 5,
          workers: 1,
          mailboxSize: 1,
          maxAttempts: 5,
          keyOf,
          handle: () => Effect.fail(new ConsumerPool.Poison({ reason: "does not decode" }))
        })
        yield* publish("k", {}, "poison-1")
        const dead = yield* broker.consume(queues.dlq, { prefetch: 5 })
        const [parked] = yield* Stream.runCollect(Stream.take(dead.deliveries, 1)).pipe(Effect.map(Chunk.toArray))
        expect(parked?.headers["x-attempts"]).toBe(0)
        expect(String(parked?.headers["x-death-reason"])).toContain("does not decode")
        yield* parked?.ack ?? Effect.void
      }))

    it.scoped("with handleMany, waiting messages go together in order; a failed batch is handled again one by one", () =>
      Effect.gen(function*() {
        const { broker, publish, queues } = yield* setup("batch")
        const seen = yield* Ref.make<ReadonlyArray<readonly [string, number]>>([])
        const batchSizes = yield* Ref.make<ReadonlyArray<number>>([])
        const record = (d: { readonly body: string }) =>
          Ref.update(seen, (all) => [...all, [String(keyOf(d)), Number(field(d.body, "seq"))] as const])
        const pool = yield* ConsumerPool.run({
          name: "batch",
          queues,
          prefetch: 40,
          workers: 2,
          mailboxSize: 8,
          maxAttempts: 3,
          keyOf,
          // Both slow enough for mailboxes to fill; handleMany refuses, as a whole, any batch holding the bad message.
          handle: (d) =>
            field(d.body, "bad") === true
              ? Effect.fail(new ConsumerPool.Poison({ reason: "bad one" }))
              : Effect.zipRight(Effect.sleep("20 millis"), record(d)),
          handleMany: (ds) =>
            Effect.gen(function*() {
              yield* Ref.update(batchSizes, (sizes) => [...sizes, ds.length])
              yield* Effect.sleep("20 millis")
              if (ds.some((d) => field(d.body, "bad") === true)) return yield* Effect.fail("a bad message in the batch")
              yield* Effect.forEach(ds, record, { discard: true })
            })
        })
        const keys = ["a", "b", "c"]
        yield* Effect.forEach(Array.from({ length: 40 }, (_, seq) => seq), (seq) =>
          Effect.forEach(keys, (key) => publish(key, { seq, bad: key === "b" && seq === 17 }, `${key}-${seq}`)), {
          discard: true
        })
        yield* poll(pool.stats, (s) => s.handled === 119 && s.deadLettered === 1)
        const all = yield* Ref.get(seen)
        expect(all).toHaveLength(119)
        for (const key of keys) {
          const expected = Array.from({ length: 40 }, (_, i) => i).filter((seq) => !(key === "b" && seq === 17))
          expect(all.filter(([k]) => k === key).map(([, seq]) => seq)).toEqual(expected)
        }
        expect(Math.max(...(yield* Ref.get(batchSizes)))).toBeGreaterThan(1)
        const dead = yield* broker.consume(queues.dlq, { prefetch: 5 })
        const [parked] = yield* Stream.runCollect(Stream.take(dead.deliveries, 1)).pipe(Effect.map(Chunk.toArray))
        expect(parked?.messageId).toBe("b-17")
        expect(String(parked?.headers["x-death-reason"])).toContain("bad one")
        yield* parked?.ack ?? Effect.void
      }))

    it.scoped("a worker that dies is restarted and its message is redelivered, not lost", () =>
      Effect.gen(function*() {
        const { publish, queues } = yield* setup("crash")
        const deliveries = yield* Ref.make<ReadonlyArray<string>>([])
        const pool = yield* ConsumerPool.run({
          name: "crash",
          queues,
          prefetch: 5,
          workers: 2,
          mailboxSize: 2,
          maxAttempts: 3,
          keyOf,
          handle: (d) =>
            Ref.modify(deliveries, (all) => [all.filter((id) => id === d.messageId).length, [...all, d.messageId ?? ""]]).pipe(
              Effect.flatMap((before) => before === 0 && d.messageId === "fragile" ? Effect.die("bug in the handler") : Effect.void)
            )
        })
        yield* publish("k", { n: 1 }, "fragile")
        yield* publish("k", { n: 2 }, "sturdy")
        const stats = yield* poll(pool.stats, (s) => s.handled === 2)
        expect(stats.restarts).toBe(1)
        expect((yield* Ref.get(deliveries)).filter((id) => id === "fragile")).toHaveLength(2)
      }))

    it.scoped("with a slow handler, unacknowledged and queued messages stay within their bounds", () =>
      Effect.gen(function*() {
        const { publish, queues } = yield* setup("bounds")
        const pool = yield* ConsumerPool.run({
          name: "bounds",
          queues,
          prefetch: 8,
          workers: 2,
          mailboxSize: 2,
          maxAttempts: 3,
          keyOf,
          handle: () => Effect.sleep("15 millis")
        })
        yield* Effect.forEach(Array.from({ length: 120 }, (_, i) => i), (i) => publish(`k${i % 7}`, { i }, `m${i}`))
        const stats = yield* poll(pool.stats, (s) => s.handled === 120)
        expect(stats.maxInFlight).toBeLessThanOrEqual(8)
        expect(stats.maxQueued).toBeLessThanOrEqual(2 * 2)
      }))

    it.scoped("shutdown stops taking messages, finishes and acknowledges in-flight ones, and leaves the rest queued", () =>
      Effect.gen(function*() {
        const { broker, publish, queues } = yield* setup("drain")
        const handled = yield* Ref.make<ReadonlyArray<string>>([])
        yield* Effect.forEach(Array.from({ length: 30 }, (_, i) => i), (i) => publish(`k${i % 3}`, { i }, `m${i}`))
        yield* Effect.scoped(
          Effect.gen(function*() {
            const pool = yield* ConsumerPool.run({
              name: "drain",
              queues,
              prefetch: 6,
              workers: 3,
              mailboxSize: 1,
              maxAttempts: 3,
              keyOf,
              handle: (d) => Effect.sleep("40 millis").pipe(Effect.zipRight(Ref.update(handled, (all) => [...all, d.messageId ?? ""])))
            })
            yield* poll(pool.stats, (s) => s.handled >= 3)
          })
        )
        const first = yield* Ref.get(handled)
        expect(first.length).toBeGreaterThanOrEqual(3)
        expect(first.length).toBeLessThan(30)
        // Everything not handled is still on the queue, and nothing handled comes back.
        const rest = yield* broker.consume(queues.main, { prefetch: 50 })
        const remaining = yield* Stream.runCollect(Stream.take(rest.deliveries, 30 - first.length)).pipe(Effect.map(Chunk.toArray))
        const ids = [...first, ...remaining.map((d) => d.messageId ?? "")]
        expect(new Set(ids).size).toBe(30)
        yield* Effect.forEach(remaining, (d) => d.ack)
      }))
  })

const quorum = Amqp.layer({ url: Redacted.make(servers().amqpUrl), connectRetries: 2, queueType: "quorum", connectionName: "herald-test" })

layer(quorum, { timeout: Duration.seconds(30), excludeTestServices: true })("ConsumerPool on quorum queues", (it) => {
  it.scoped("a message its consumers keep dying on is parked by the broker's delivery limit, whatever the process counted", () =>
    Effect.gen(function*() {
      const broker = yield* Broker
      const exchange = uniqueName("limit_x")
      const queues = consumerQueues(uniqueName("limit"), [{ exchange, pattern: "#" }], { retryDelaysMs: [100], deliveryLimit: 2 })
      yield* broker.declare({ exchanges: [{ name: exchange, type: "topic" }], queues: queues.queues })
      yield* broker.publish({ exchange, routingKey: "test.event", body: JSON.stringify({ key: "ann" }), messageId: "doomed" })
      const deaths = yield* Ref.make(0)
      // The pool's own crash count never triggers here (a process that dies on the message loses it anyway).
      yield* ConsumerPool.run({
        name: "limit",
        queues,
        prefetch: 1,
        workers: 1,
        mailboxSize: 1,
        maxAttempts: 1_000,
        keyOf,
        handle: () => Effect.zipRight(Ref.update(deaths, (n) => n + 1), Effect.dieMessage("the process would die here"))
      })
      const parked = yield* broker.consume(queues.dlq, { prefetch: 1 })
      const [message] = yield* Stream.runCollect(Stream.take(parked.deliveries, 1)).pipe(Effect.map(Chunk.toArray))
      expect(message?.messageId).toBe("doomed")
      yield* Effect.forEach([message], (d) => d?.ack ?? Effect.void)
      // The first delivery and two redeliveries: then the broker parks it.
      expect(yield* Ref.get(deaths)).toBe(3)
    }))
})

describe("ConsumerPool", () => {
  suite("RabbitMQ", Amqp.layer({ url: Redacted.make(servers().amqpUrl), connectRetries: 2, queueType: "classic", connectionName: "herald-test" }))
  suite("the in-memory broker", MemoryBroker.layerMemory)
})

