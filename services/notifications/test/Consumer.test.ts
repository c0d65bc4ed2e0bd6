import { describe, expect, it } from "@effect/vitest"
import { eventsExchange } from "@herald/domain/Events"
import { servers, uniqueName } from "@herald/testing/Env"
import { eventually, request, sleep } from "@herald/testing/Http"
import { closeBrokerConnections, rabbitmqctl, startVhost } from "@herald/testing/RabbitMq"
import { Context, Effect, Layer } from "effect"
import { MongoClient } from "mongodb"
import * as System from "@herald/testing/System"
import { drain, exportCompleted, publish, userIds } from "./support/Events.ts"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

/** A system of its own, alive for the rest of the test's scope. */
const system = (label: string, options: Parameters<typeof System.layer>[1]) =>
  Effect.map(Layer.build(System.layer(label, options)), (context) => Context.get(context, System.TestSystem))

/** The system's notifications collection, read directly: what was stored, not what an endpoint shows. */
const notificationsOf = (database: string) =>
  Effect.acquireRelease(
    promise(async () => {
      const client = await new MongoClient(servers().mongodbUrl).connect()
      return { client, notifications: client.db(database).collection("notifications") }
    }),
    ({ client }) => promise(() => client.close())
  )

const gauge = (metrics: string, name: string, pool: string) => {
  const line = metrics.split("\n").find((l) => l.startsWith(`${name}{pool="${pool}"}`))
  return line === undefined ? Number.NaN : Number(line.split(" ").pop())
}

describe("notifications consumer", () => {
  it.live("10,000 events for 100 users with a duplicate of every tenth: exactly 10,000 notifications, per-user order kept", () =>
    Effect.gen(function*() {
      const { env } = yield* system("tenk", {})
      const { notifications } = yield* notificationsOf(env.MONGODB_DATABASE)
      const users = userIds(100)
      const events = Array.from({ length: 10_000 }, (_, seq) => exportCompleted(users[seq % 100] ?? "", seq))
      const seqOf = new Map(events.map((event, seq) => [event.id, seq]))
      const messages = events.flatMap((event, seq) => {
        const message = { routingKey: event.type, body: JSON.stringify(event), messageId: event.id }
        return seq % 10 === 0 ? [message, message] : [message]
      })
      const started = Date.now()
      yield* promise(() => publish(servers().amqpUrl, `${env.AMQP_PREFIX}${eventsExchange}`, messages))
      // A cheap count while waiting: a filtered count is a scan on FerretDB, and would slow what it measures.
      yield* promise(() => eventually(async () => {
        await sleep(500)
        return notifications.estimatedDocumentCount()
      }, (count) => count >= 10_000, 240_000))
      const elapsed = Date.now() - started
      // Give any duplicate time to (wrongly) arrive, then count again.
      yield* promise(() => sleep(1_500))
      expect(yield* promise(() => notifications.countDocuments())).toBe(10_000)
      const stored = yield* promise(() => notifications.find({}, { projection: { userId: 1, eventId: 1 } }).sort({ _id: 1 }).toArray())
      const byUser = new Map<string, Array<number>>()
      for (const doc of stored) {
        const list = byUser.get(String(doc.userId)) ?? []
        list.push(seqOf.get(String(doc.eventId)) ?? -1)
        byUser.set(String(doc.userId), list)
      }
      expect(byUser.size).toBe(100)
      for (const [, seqs] of byUser) {
        expect(seqs).toHaveLength(100)
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
      }
      console.log(`10,000 events (+1,000 duplicates) stored in ${elapsed} ms (${Math.round(10_000 / (elapsed / 1000))}/s)`)
    }).pipe(Effect.scoped), { timeout: 300_000 })

  it.live("messages that are not Herald events go to the dead-letter queue with the reason; the rest keep flowing", () =>
    Effect.gen(function*() {
      const { env } = yield* system("poison", {})
      const { notifications } = yield* notificationsOf(env.MONGODB_DATABASE)
      const [user = ""] = userIds(1)
      const good = Array.from({ length: 20 }, (_, seq) => exportCompleted(user, seq))
      yield* promise(() =>
        publish(servers().amqpUrl, `${env.AMQP_PREFIX}${eventsExchange}`, [
          { routingKey: "task.created", body: "{not json", messageId: "poison-1" },
          { routingKey: "task.updated", body: JSON.stringify({ type: "task.updated", id: "x" }), messageId: "poison-2" },
          ...good.map((event) => ({ routingKey: event.type, body: JSON.stringify(event), messageId: event.id }))
        ]))
      yield* promise(() => eventually(() => notifications.countDocuments(), (count) => count === 20))
      const parked: Array<Awaited<ReturnType<typeof drain>>[number]> = []
      yield* promise(() =>
        eventually(async () => {
          parked.push(...(await drain(servers().amqpUrl, `${env.AMQP_PREFIX}notifications.events.dlq`)))
          return parked.length
        }, (count) => count >= 2))
      expect(parked.map((m) => m.properties.messageId).sort()).toEqual(["poison-1", "poison-2"])
      for (const message of parked) {
        expect(String(message.properties.headers?.["x-death-reason"])).toContain("poison: not a Herald event")
        expect(message.properties.headers?.["x-original-routing-key"]).toMatch(/^task\./)
      }
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("with a slow store, unacknowledged and queued messages stay within their bounds and memory stays flat", () =>
    Effect.gen(function*() {
      const { env, metricsUrl } = yield* system("slow", {
        env: { CONSUMER_PREFETCH: "16", CONSUMER_WORKERS: "4", CONSUMER_MAILBOX: "2" },
        slowInserts: { collection: "notifications", delay: "15 millis" }
      })
      const { notifications } = yield* notificationsOf(env.MONGODB_DATABASE)
      const users = userIds(40)
      const events = Array.from({ length: 1_500 }, (_, seq) => exportCompleted(users[seq % 40] ?? "", seq, new Date(Date.now() + seq)))
      global.gc?.()
      const heapBefore = process.memoryUsage().heapUsed
      yield* promise(() =>
        publish(servers().amqpUrl, `${env.AMQP_PREFIX}${eventsExchange}`, events.map((e) => ({ routingKey: e.type, body: JSON.stringify(e), messageId: e.id }))))
      const queue = `${env.AMQP_PREFIX}notifications.events`
      const samples: Array<{ readonly ready: number; readonly unacked: number; readonly heap: number }> = []
      while ((yield* promise(() => notifications.estimatedDocumentCount())) < 1_500) {
        const listing = yield* promise(() => rabbitmqctl("list_queues", "-p", servers().amqpVhost, "name", "messages_ready", "messages_unacknowledged"))
        const row = listing.split("\n").map((l) => l.trim().split(/\s+/)).find((cols) => cols[0] === queue)
        samples.push({ ready: Number(row?.[1] ?? 0), unacked: Number(row?.[2] ?? 0), heap: process.memoryUsage().heapUsed })
        yield* promise(() => sleep(400))
      }
      const metrics = (yield* promise(() => request(metricsUrl, ""))).text
      expect(gauge(metrics, "herald_consumer_in_flight_max", "notifications")).toBeLessThanOrEqual(16)
      expect(gauge(metrics, "herald_consumer_queued_max", "notifications")).toBeLessThanOrEqual(4 * 2)
      expect(samples.length).toBeGreaterThan(3)
      // The backlog waits in the broker, not in this process.
      expect(Math.max(...samples.map((s) => s.ready))).toBeGreaterThan(200)
      expect(Math.max(...samples.map((s) => s.unacked))).toBeLessThanOrEqual(16)
      expect(Math.max(...samples.map((s) => s.heap)) - heapBefore).toBeLessThan(64 * 1024 * 1024)
    }).pipe(Effect.scoped), { timeout: 120_000 })

  it.live("a broker connection closed mid-stream: the consumer recovers, nothing lost or doubled", () =>
    Effect.gen(function*() {
      const vhost = yield* Effect.acquireRelease(promise(() => startVhost(uniqueName("killed"))), (v) => promise(v.stop))
      const { env } = yield* system("killed", { env: { AMQP_URL: vhost.url } })
      const { notifications } = yield* notificationsOf(env.MONGODB_DATABASE)
      const users = userIds(20)
      const events = Array.from({ length: 3_000 }, (_, seq) => exportCompleted(users[seq % 20] ?? "", seq))
      yield* promise(() =>
        publish(vhost.url, `${env.AMQP_PREFIX}${eventsExchange}`, events.map((e) => ({ routingKey: e.type, body: JSON.stringify(e), messageId: e.id }))))
      yield* promise(() => eventually(() => notifications.estimatedDocumentCount(), (count) => count >= 300, 60_000))
      const closed = yield* promise(() => closeBrokerConnections(vhost.vhost))
      expect(closed).toBeGreaterThan(0)
      const midway = yield* promise(() => notifications.countDocuments())
      expect(midway).toBeLessThan(3_000)
      yield* promise(() => eventually(async () => {
        await sleep(300)
        return notifications.estimatedDocumentCount()
      }, (count) => count >= 3_000, 120_000))
      yield* promise(() => sleep(1_000))
      expect(yield* promise(() => notifications.countDocuments())).toBe(3_000)
      expect((yield* promise(() => notifications.distinct("eventId"))).length).toBe(3_000)
    }).pipe(Effect.scoped), { timeout: 200_000 })
})
