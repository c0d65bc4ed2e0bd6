import { describe, expect, it } from "@effect/vitest"
import { eventsExchange } from "@herald/domain/Events"
import { uniqueName } from "@herald/testing/Env"
import { eventually, request, signUp, text } from "@herald/testing/Http"
import { closeBrokerConnections, rabbitmqctl, startVhost } from "@herald/testing/RabbitMq"
import { startService } from "@herald/testing/Services"
import * as amqp from "amqplib"
import { Effect } from "effect"
import * as System from "@herald/testing/System"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

interface Seen {
  readonly id: string
  readonly type: string
  readonly aggregateId: string
  readonly aggregateVersion: number
}

/** Everything waiting in the audit queue (it binds `#`, so it holds every event published). */
const drain = async (url: string, queue: string): Promise<Array<Seen>> => {
  const connection = await amqp.connect(url)
  try {
    const channel = await connection.createChannel()
    const seen: Array<Seen> = []
    for (;;) {
      const message = await channel.get(queue, { noAck: true })
      if (message === false) break
      seen.push(JSON.parse(message.content.toString()))
    }
    return seen
  } finally {
    await connection.close()
  }
}

describe("transactional outbox", () => {
  it.live("writes made while the broker refuses, then the service killed: after recovery every write has its event", () =>
    Effect.gen(function*() {
      const vhost = yield* Effect.acquireRelease(promise(() => startVhost(uniqueName("outbox"))), (v) => promise(v.stop))
      const env = System.testEnv("outbox", { AMQP_URL: vhost.url })
      const exchange = `${env.AMQP_PREFIX}${eventsExchange}`
      const audit = `${env.AMQP_PREFIX}audit`
      yield* promise(async () => {
        const connection = await amqp.connect(vhost.url)
        const channel = await connection.createChannel()
        await channel.assertExchange(exchange, "topic", { durable: true })
        await channel.assertQueue(audit, { durable: true })
        await channel.bindQueue(audit, exchange, "#")
        await connection.close()
      })

      const first = yield* Effect.acquireRelease(
        promise(() => startService("services/all-in-one/src/main.ts", env)),
        (process) => promise(process.kill)
      )
      const user = yield* promise(() => signUp(first.url, "outbox"))
      const expected = new Map<string, number>()
      const create = (url: string, title: string) =>
        promise(async () => {
          const reply = await request(url, "/api/tasks", { token: user.token, body: { title } })
          expect(reply.status).toBe(201)
          expected.set(text(reply.body, "id"), 1)
          return text(reply.body, "id")
        })
      const before = yield* Effect.forEach(["a", "b", "c"], (title) => create(first.url, title))

      // The broker refuses this service: no permissions on its virtual host, and its connections closed.
      yield* promise(() => rabbitmqctl("clear_permissions", "-p", vhost.vhost, "guest"))
      yield* promise(() => closeBrokerConnections(vhost.vhost))
      const during = yield* Effect.forEach(["d", "e", "f", "g"], (title) => create(first.url, title))
      for (const id of [...before, ...during]) {
        const patched = yield* promise(() => request(first.url, `/api/tasks/${id}`, { method: "PATCH", token: user.token, body: { status: "done" } }))
        expect(patched.status).toBe(200)
        expected.set(id, 2)
      }
      for (const id of during.slice(0, 2)) {
        expect((yield* promise(() => request(first.url, `/api/tasks/${id}`, { method: "DELETE", token: user.token }))).status).toBe(204)
        expected.set(id, 3)
      }
      // Killed with events still in its outbox.
      yield* promise(first.kill)
      yield* promise(() => rabbitmqctl("set_permissions", "-p", vhost.vhost, "guest", ".*", ".*", ".*"))

      const second = yield* Effect.acquireRelease(
        promise(() => startService("services/all-in-one/src/main.ts", env)),
        (process) => promise(process.stop)
      )
      void second
      const seen: Array<Seen> = []
      const wanted = [...expected.values()].reduce((a, b) => a + b, 0)
      yield* promise(() =>
        eventually(async () => {
          seen.push(...(await drain(vhost.url, audit)).filter((event) => event.type.startsWith("task.")))
          return new Set(seen.map((event) => event.id)).size
        }, (unique) => unique >= wanted, 45_000)
      )
      // Exactly one event per committed write (duplicates of an event are allowed, gaps are not).
      for (const [taskId, lastVersion] of expected) {
        const versions = [...new Set(seen.filter((event) => event.aggregateId === taskId).map((event) => event.aggregateVersion))].sort()
        expect([taskId, versions]).toEqual([taskId, Array.from({ length: lastVersion }, (_, i) => i + 1)])
        const types = [...new Set(seen.filter((event) => event.aggregateId === taskId).map((event) => `${event.aggregateVersion}:${event.type}`))]
        expect(types.length).toBe(lastVersion)
      }
      expect(new Set(seen.map((event) => event.id)).size).toBe(wanted)
    }).pipe(Effect.scoped), { timeout: 150_000 })
})
