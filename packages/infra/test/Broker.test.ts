import { describe, expect, it, layer } from "@effect/vitest"
import { servers, uniqueName } from "@herald/testing/Env"
import { closeBrokerConnections, rabbitmqctl } from "@herald/testing/RabbitMq"
import { Chunk, Duration, Effect, Fiber, type Layer, Option, Redacted, Stream } from "effect"
import * as Amqp from "../src/Amqp.ts"
import { Broker, type Delivery, topicMatches } from "../src/Broker.ts"
import * as MemoryBroker from "../src/MemoryBroker.ts"
import { consumerQueues } from "../src/Topology.ts"

const amqpConfig = (url: string, connectRetries = 2, connectionName = "herald-test") => ({
  url: Redacted.make(url),
  connectRetries,
  queueType: "classic" as const,
  connectionName
})

const rabbit = () => Amqp.layer(amqpConfig(servers().amqpUrl))

/** A fresh exchange and consumer queues per test: tests of one run share the vhost. */
const topologyFor = (label: string) => {
  const exchange = uniqueName(`${label}_x`)
  const tasks = consumerQueues(uniqueName(`${label}_tasks`), [{ exchange, pattern: "task.*" }], { retryDelaysMs: [200] })
  const everything = consumerQueues(uniqueName(`${label}_all`), [{ exchange, pattern: "#" }], { retryDelaysMs: [200] })
  return {
    exchange,
    tasks,
    everything,
    topology: { exchanges: [{ name: exchange, type: "topic" as const }], queues: [...tasks.queues, ...everything.queues] }
  }
}

const take = (deliveries: Stream.Stream<Delivery>, n: number) =>
  Stream.runCollect(Stream.take(deliveries, n)).pipe(Effect.map(Chunk.toArray), Effect.timeout("10 seconds"))

const contract = (name: string, broker: Layer.Layer<Broker, unknown>) =>
  // Live clock: message TTLs and delivery waits are real time on both implementations.
  layer(broker, { timeout: Duration.seconds(30), excludeTestServices: true })(`Broker contract: ${name}`, (it) => {
    it.scoped("routes by topic pattern to every bound queue, with body, id and headers intact", () =>
      Effect.gen(function*() {
        const broker = yield* Broker
        const t = topologyFor("route")
        yield* broker.declare(t.topology)
        yield* broker.publish({ exchange: t.exchange, routingKey: "task.created", body: "{\"n\":1}", messageId: "m1", headers: { "x-attempts": 2 } })
        yield* broker.publish({ exchange: t.exchange, routingKey: "export.completed", body: "{\"n\":2}", messageId: "m2" })
        const tasks = yield* broker.consume(t.tasks.main, { prefetch: 10 })
        const all = yield* broker.consume(t.everything.main, { prefetch: 10 })
        const [first] = yield* take(tasks.deliveries, 1)
        expect(first).toMatchObject({ body: "{\"n\":1}", messageId: "m1", routingKey: "task.created", redelivered: false })
        expect(first?.headers["x-attempts"]).toBe(2)
        const both = yield* take(all.deliveries, 2)
        expect(both.map((d) => d.messageId)).toEqual(["m1", "m2"])
        yield* Effect.forEach([first, ...both], (d) => d?.ack ?? Effect.void)
      }))

    it.scoped("never has more unacknowledged deliveries than the prefetch", () =>
      Effect.gen(function*() {
        const broker = yield* Broker
        const t = topologyFor("prefetch")
        yield* broker.declare(t.topology)
        yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => i), (i) =>
          broker.publish({ exchange: t.exchange, routingKey: "task.updated", body: String(i) }))
        const consumer = yield* broker.consume(t.tasks.main, { prefetch: 3 })
        const firstThree = yield* take(consumer.deliveries, 3)
        const fourth = yield* Effect.fork(take(consumer.deliveries, 1))
        yield* Effect.sleep("300 millis")
        expect(Option.isNone(yield* Fiber.poll(fourth))).toBe(true)
        yield* Effect.forEach(firstThree, (d) => d.ack)
        const [next] = yield* Fiber.join(fourth)
        expect(next?.body).toBe("3")
      }))

    it.scoped("a requeued message comes back marked as redelivered", () =>
      Effect.gen(function*() {
        const broker = yield* Broker
        const t = topologyFor("requeue")
        yield* broker.declare(t.topology)
        yield* broker.publish({ exchange: t.exchange, routingKey: "task.deleted", body: "again" })
        const consumer = yield* broker.consume(t.tasks.main, { prefetch: 1 })
        const [first] = yield* take(consumer.deliveries, 1)
        yield* first?.requeue ?? Effect.void
        const [second] = yield* take(consumer.deliveries, 1)
        expect([second?.body, second?.redelivered]).toEqual(["again", true])
        yield* second?.ack ?? Effect.void
      }))

    it.scoped("a message in a retry queue returns to its main queue after the delay", () =>
      Effect.gen(function*() {
        const broker = yield* Broker
        const t = topologyFor("retry")
        yield* broker.declare(t.topology)
        const consumer = yield* broker.consume(t.tasks.main, { prefetch: 5 })
        const started = Date.now()
        yield* broker.publish({ exchange: "", routingKey: t.tasks.retryQueue(1), body: "later", headers: { "x-attempts": 1 } })
        const [back] = yield* take(consumer.deliveries, 1)
        expect(back?.body).toBe("later")
        expect(back?.headers["x-attempts"]).toBe(1)
        expect(Date.now() - started).toBeGreaterThanOrEqual(150)
        yield* back?.ack ?? Effect.void
      }), { timeout: 15_000 })

    it.scoped("what a closed consumer left unacknowledged is delivered again", () =>
      Effect.gen(function*() {
        const broker = yield* Broker
        const t = topologyFor("close")
        yield* broker.declare(t.topology)
        yield* broker.publish({ exchange: t.exchange, routingKey: "task.created", body: "x" })
        yield* Effect.scoped(
          Effect.gen(function*() {
            const consumer = yield* broker.consume(t.tasks.main, { prefetch: 1 })
            yield* take(consumer.deliveries, 1)
          })
        )
        const consumer = yield* broker.consume(t.tasks.main, { prefetch: 1 })
        const [again] = yield* take(consumer.deliveries, 1)
        expect([again?.body, again?.redelivered]).toEqual(["x", true])
        yield* again?.ack ?? Effect.void
      }))

    it.scoped("a queue declared again with other bindings keeps the old ones too (bindings only add up)", () =>
      Effect.gen(function*() {
        const broker = yield* Broker
        const t = topologyFor("rebind")
        yield* broker.declare(t.topology)
        const [main] = t.tasks.queues
        if (main === undefined) return yield* Effect.dieMessage("no main queue")
        yield* broker.declare({ exchanges: [], queues: [{ ...main, bindings: [{ exchange: t.exchange, pattern: "project.*" }] }] })
        yield* broker.publish({ exchange: t.exchange, routingKey: "task.created", body: "old binding" })
        yield* broker.publish({ exchange: t.exchange, routingKey: "project.created", body: "new binding" })
        const consumer = yield* broker.consume(t.tasks.main, { prefetch: 10 })
        const both = yield* take(consumer.deliveries, 2)
        expect(both.map((d) => d.body)).toEqual(["old binding", "new binding"])
        yield* Effect.forEach(both, (d) => d.ack)
      }))
  })

describe("Broker", () => {
  it("topic patterns match as AMQP defines them", () => {
    expect(topicMatches("task.*", "task.created")).toBe(true)
    expect(topicMatches("task.*", "task.created.x")).toBe(false)
    expect(topicMatches("#", "a.b.c")).toBe(true)
    expect(topicMatches("a.#.c", "a.c")).toBe(true)
    expect(topicMatches("a.#.c", "a.x.y.c")).toBe(true)
    expect(topicMatches("*.created", "project.created")).toBe(true)
    expect(topicMatches("*.created", "created")).toBe(false)
  })
  contract("RabbitMQ", rabbit())
  contract("in memory", MemoryBroker.layerMemory)
})

describe("RabbitMQ connection", () => {
  it.live("a connection closed by the broker is re-established: consuming resumes and nothing is lost", () =>
    Effect.gen(function*() {
      const broker = yield* Broker
      const t = topologyFor("reconnect")
      yield* broker.declare(t.topology)
      const consumer = yield* broker.consume(t.tasks.main, { prefetch: 5 })
      yield* broker.publish({ exchange: t.exchange, routingKey: "task.created", body: "before" })
      const [unacked] = yield* take(consumer.deliveries, 1)
      expect(unacked?.body).toBe("before")
      const closed = yield* Effect.promise(() => closeBrokerConnections(servers().amqpVhost))
      expect(closed).toBeGreaterThan(0)
      // Acknowledging on the dead channel is harmless; the broker redelivers the message on the new one.
      yield* unacked?.ack ?? Effect.void
      yield* broker.publish({ exchange: t.exchange, routingKey: "task.created", body: "after" }).pipe(
        Effect.retry({ times: 20 })
      )
      const bodies = yield* take(consumer.deliveries, 2)
      expect(bodies.map((d) => d.body).sort()).toEqual(["after", "before"])
      expect(bodies.find((d) => d.body === "before")?.redelivered).toBe(true)
      yield* Effect.forEach(bodies, (d) => d.ack)
    }).pipe(Effect.provide(rabbit()), Effect.scoped), { timeout: 60_000 })

  it.live("an unreachable broker is retried, then reported as a typed error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Amqp.connect(amqpConfig("amqp://guest:guest@127.0.0.1:1/", 2)))
      expect(error._tag).toBe("AmqpConnectionError")
      expect(error.message).toContain("127.0.0.1:1")
    }))

  it.live("closing the layer closes its connection", () =>
    Effect.gen(function*() {
      const name = uniqueName("close")
      const count = () =>
        Effect.promise(() =>
          rabbitmqctl("list_connections", "client_properties").then((out) =>
            out.split("\n").filter((line) => line.includes(`"${name}"`)).length
          )
        )
      yield* Effect.scoped(
        Effect.gen(function*() {
          const broker = yield* Broker
          yield* broker.probe
          expect(yield* count()).toBe(1)
        }).pipe(Effect.provide(Amqp.layer(amqpConfig(servers().amqpUrl, 1, name))))
      )
      expect(yield* count()).toBe(0)
    }), { timeout: 60_000 })
})
