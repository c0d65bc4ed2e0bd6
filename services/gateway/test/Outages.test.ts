import { describe, expect, it } from "@effect/vitest"
import { uniqueName } from "@herald/testing/Env"
import { request, signUp, sleep, teammateOf, text } from "@herald/testing/Http"
import { startFerretDb } from "@herald/testing/FerretDb"
import { closeBrokerConnections, rabbitmqctl, startVhost } from "@herald/testing/RabbitMq"
import { startRedis } from "@herald/testing/RedisServer"
import { type ServiceProcess, startService } from "@herald/testing/Services"
import { Effect } from "effect"
import { MongoClient } from "mongodb"
import { cluster } from "@herald/testing/Cluster"
import * as System from "@herald/testing/System"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

/** The acknowledged creates of a steady stream of writers, and what the others answered. */
const writers = (gateway: () => string, token: string, concurrency: number, fields: Record<string, string>) => {
  const acknowledged = new Set<string>()
  const statuses = new Map<string, number>()
  let running = true
  let sequence = 0
  const loop = async () => {
    while (running) {
      sequence += 1
      const title = `write ${sequence}`
      const outcome = await request(gateway(), "/api/tasks", { token, body: { title, ...fields } }).then(
        (reply) => {
          if (reply.status === 201) acknowledged.add(text(reply.body, "id"))
          return String(reply.status)
        },
        () => "refused"
      )
      statuses.set(outcome, (statuses.get(outcome) ?? 0) + 1)
      if (outcome !== "201") await sleep(50)
    }
  }
  const loops = Array.from({ length: concurrency }, loop)
  return {
    acknowledged,
    statuses,
    stop: async () => {
      running = false
      await Promise.all(loops)
    }
  }
}

describe("outages while writes flow", () => {
  it.live(
    "database, Redis, broker and each service killed in turn: every acknowledged create has exactly one notification for its assignee",
    () =>
      Effect.gen(function*() {
        const ferret = yield* Effect.acquireRelease(promise(() => startFerretDb()), (server) => promise(server.stop))
        const redis = yield* Effect.acquireRelease(promise(() => startRedis()), (server) => promise(server.stop))
        const vhost = yield* Effect.acquireRelease(promise(() => startVhost(uniqueName("outages"))), (v) => promise(v.stop))
        const env = System.testEnv("outages", {
          MONGODB_URL: ferret.url,
          REDIS_URL: redis.url,
          AMQP_URL: vhost.url,
          MONGODB_CONNECT_RETRIES: "30"
        })
        const system = yield* cluster(env, { gateways: 1, notifications: 1 })
        const processes = new Map<string, ServiceProcess>([
          ["users", system.users],
          ["tasks", system.tasks],
          ["notifications", system.notifications[0] ?? system.users],
          ["gateway", system.gateways[0] ?? system.users]
        ])
        const gatewayUrl = () => processes.get("gateway")?.url ?? ""
        // Ada's mate creates tasks in Ada's project, each assigned to her: one notification for Ada per create.
        const user = yield* promise(() => signUp(gatewayUrl(), "outages"))
        const { mate, projectId } = yield* promise(() => teammateOf(gatewayUrl(), user))

        /** SIGKILL, a pause, then the same program on the same port with the same settings. */
        const crash = (name: string) =>
          Effect.gen(function*() {
            const victim = processes.get(name)
            if (victim === undefined) return
            yield* promise(victim.kill)
            yield* promise(() => sleep(1_000))
            const replacement = yield* Effect.acquireRelease(
              promise(() => startService(`services/${name}/src/main.ts`, system.envOf(victim), { port: victim.port })),
              (process) => promise(process.stop)
            )
            processes.set(name, replacement)
          })

        const load = writers(gatewayUrl, mate.token, 8, { projectId, assigneeId: user.userId })
        const steady = () => promise(() => sleep(2_500))
        yield* steady()
        yield* promise(ferret.kill)
        yield* promise(() => sleep(4_000))
        yield* promise(ferret.restart)
        yield* steady()
        yield* promise(redis.restart)
        yield* steady()
        yield* promise(() => rabbitmqctl("clear_permissions", "-p", vhost.vhost, "guest"))
        yield* promise(() => closeBrokerConnections(vhost.vhost))
        yield* promise(() => sleep(3_000))
        yield* promise(() => rabbitmqctl("set_permissions", "-p", vhost.vhost, "guest", ".*", ".*", ".*"))
        yield* steady()
        // The users service goes last: it makes a new signing key at start, and a restarted gateway would fetch it.
        for (const name of ["tasks", "notifications", "gateway", "users"]) {
          yield* crash(name)
          yield* steady()
        }
        yield* promise(load.stop)
        const acknowledged = [...load.acknowledged]
        expect(acknowledged.length).toBeGreaterThan(100)

        const mongo = yield* Effect.acquireRelease(
          promise(() => new MongoClient(ferret.url).connect()),
          (client) => promise(() => client.close())
        )
        const notifications = mongo.db(env.MONGODB_DATABASE).collection("notifications")
        const countsByTask = async () => {
          const docs = await notifications.find({ userId: user.userId, type: "task.assigned" }).toArray()
          const counts = new Map<string, number>()
          for (const doc of docs) {
            const taskId = String(Reflect.get(doc.data ?? {}, "taskId"))
            counts.set(taskId, (counts.get(taskId) ?? 0) + 1)
          }
          return counts
        }
        const deadline = Date.now() + 90_000
        let counts = yield* promise(countsByTask)
        while (acknowledged.some((id) => !counts.has(id)) && Date.now() < deadline) {
          yield* promise(() => sleep(500))
          counts = yield* promise(countsByTask)
        }
        const missing = acknowledged.filter((id) => !counts.has(id))
        console.log(`outages: ${acknowledged.length} creates acknowledged; answers ${JSON.stringify(Object.fromEntries(load.statuses))}`)
        const doubled = [...counts].filter(([, count]) => count > 1)
        expect({ missing, doubled, statuses: Object.fromEntries(load.statuses) }).toEqual({
          missing: [],
          doubled: [],
          statuses: Object.fromEntries(load.statuses)
        })
      }).pipe(Effect.scoped),
    { timeout: 240_000 }
  )
})
