/**
 * `npm run bench`: Herald's bundles against the baselines of bench/README.md, on servers started here; prints a table
 * and writes bench/results.json (about ten minutes). BENCH_SECONDS (8) per load run; BENCH_EVENTS (1500) per pipeline.
 */
import { Effect, Layer, Redacted } from "effect"
import * as RateLimiter from "@herald/infra/RateLimiter"
import * as Redis from "@herald/infra/Redis"
import { request, signUp, text } from "@herald/testing/Http"
import { startFerretDb } from "@herald/testing/FerretDb"
import { freePort } from "@herald/testing/Ports"
import { startVhost } from "@herald/testing/RabbitMq"
import { startRedis } from "@herald/testing/RedisServer"
import { type ServiceProcess, startService } from "@herald/testing/Services"
import amqp from "amqplib"
import autocannon from "autocannon"
import { Redis as IORedis } from "ioredis"
import { MongoClient } from "mongodb"
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { writeFileSync } from "node:fs"
import { cpus, loadavg, totalmem } from "node:os"
import { fanout, type FanoutResult } from "./fanout.ts"
import { callsPerSecond, cpuMeter, cpuSummary, type Measured, percentile, pidsOfRedis, postgresBackendsOf, rssMb, round, sleep } from "./support.ts"

const seconds = Number(process.env.BENCH_SECONDS ?? 8)
const eventCount = Number(process.env.BENCH_EVENTS ?? 1500)
const fanoutMembers = Number(process.env.BENCH_MEMBERS ?? 1000)
const connections = 50
/** Concurrent writers of the pipeline runs, Herald's and the baselines'. */
const writers = 16
const root = new URL("../", import.meta.url).pathname
const sections = ["memory", "hot", "limiter", "pipeline", "fanout"] as const
const only = (process.env.BENCH_ONLY ?? sections.join(",")).split(",").map((name) => name.trim())
const runs = (section: (typeof sections)[number]) => only.includes(section)

interface LoadResult {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly non2xx: number
  readonly errors: number
  /** CPU time per request of each process serving it (the database included), over the counted run. */
  readonly cpuMsPerRequest: Record<string, number>
}

/** autocannon at `connections` for `seconds`, after a short warm-up that is not counted. */
const load = async (url: string, headers: Record<string, string>, measured: Record<string, Measured>): Promise<LoadResult> => {
  await autocannon({ url, connections, duration: 2, headers })
  const meter = cpuMeter(measured)
  const result = await autocannon({ url, connections, duration: seconds, headers })
  return {
    rps: round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    cpuMsPerRequest: meter.stop(result.requests.total)
  }
}

const loadCpu = (run: LoadResult) => cpuSummary(run.cpuMsPerRequest)

/** Samples the RSS of processes while `during` runs; returns the peak of each. */
const peakRss = async <A>(processes: Record<string, ServiceProcess>, during: Promise<A>) => {
  const peaks: Record<string, number> = {}
  let done = false
  const sampler = (async () => {
    while (!done) {
      for (const [name, process] of Object.entries(processes)) {
        peaks[name] = Math.max(peaks[name] ?? 0, rssMb(process.pid))
      }
      await sleep(200)
    }
  })()
  const value = await during
  done = true
  await sampler
  return { value, peaks }
}

/**
 * Idle RSS, median and maximum per process, sampled after `settleSeconds` of quiet: V8 gives back the young
 * generation grown at start only 30–70 s later (measured), so "just started" is not "idle".
 */
const idleRss = async (pids: Record<string, number | undefined>, settleSeconds = 60, sampleSeconds = 20) => {
  await sleep(settleSeconds * 1000)
  const samples: Record<string, Array<number>> = {}
  for (let i = 0; i < sampleSeconds; i++) {
    for (const [name, pid] of Object.entries(pids)) (samples[name] ??= []).push(rssMb(pid))
    await sleep(1000)
  }
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, { median: percentile(values, 50), max: Math.max(...values) }]))
}

interface PipelineResult {
  readonly events: number
  readonly created: number
  /** Creates the API answered 201 per second, over the writers' run. */
  readonly acceptedPerSecond: number
  /** Notifications stored per second, from the first create to the last notification stored. */
  readonly eventsPerSecond: number
  /** ms from the task's `createdAt` to its notification's `createdAt` (taken just before the insert). */
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly failedCreates: number
  /** CPU ms per event of each process over the whole run (creates and deliveries); `load` is the load generator. */
  readonly cpuMsPerEvent: Record<string, number>
}

type NotificationsCollection = ReturnType<ReturnType<MongoClient["db"]>["collection"]>

/**
 * `eventCount` tasks created through an HTTP API by `writers` concurrent clients, each assigned to `recipient`; waits
 * until `recipient` has one notification per created task (at most two minutes), then reads when each was stored.
 */
const pipelineRun = async (options: {
  readonly api: string
  readonly token?: string
  readonly body: (i: number) => Record<string, unknown>
  readonly notifications: NotificationsCollection
  readonly recipient: string
  readonly measured: Record<string, Measured>
}): Promise<PipelineResult> => {
  const createdAt = new Map<string, number>()
  let failedCreates = 0
  const meter = cpuMeter(options.measured)
  const pipelineStart = Date.now()
  let next = 0
  await Promise.all(Array.from({ length: writers }, async () => {
    while (next < eventCount) {
      const i = next++
      const reply = await request(options.api, "/api/tasks", { ...(options.token === undefined ? {} : { token: options.token }), body: options.body(i) })
      if (reply.status === 201) createdAt.set(text(reply.body, "id"), Date.parse(text(reply.body, "createdAt")))
      else failedCreates++
    }
  }))
  const acceptedMs = Date.now() - pipelineStart
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline && (await options.notifications.countDocuments({ userId: options.recipient })) < createdAt.size) await sleep(100)
  const storedDocs = await options.notifications.find({ userId: options.recipient }, { projection: { createdAt: 1, data: 1 } }).toArray()
  const cpu = meter.stop(createdAt.size)
  const stored = storedDocs.flatMap((doc) => {
    const taskId: unknown = doc.data?.taskId
    const at = typeof taskId === "string" ? createdAt.get(taskId) : undefined
    return at === undefined || !(doc.createdAt instanceof Date) ? [] : [{ at, storedAt: doc.createdAt.getTime() }]
  })
  const latencies = stored.map((one) => one.storedAt - one.at)
  const lastStored = Math.max(...stored.map((one) => one.storedAt))
  const firstCreated = Math.min(...createdAt.values())
  return {
    events: stored.length,
    created: createdAt.size,
    acceptedPerSecond: round(createdAt.size / (acceptedMs / 1000)),
    eventsPerSecond: round(stored.length / ((lastStored - firstCreated) / 1000)),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: Math.max(...latencies),
    failedCreates,
    cpuMsPerEvent: cpu
  }
}

const main = async () => {
  const [load1, load5] = loadavg()
  console.log(`Herald benchmarks: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; ${seconds} s per load run; load average ${load1?.toFixed(2)} (1 min), ${load5?.toFixed(2)} (5 min); sections ${only.join(", ")}`)
  const loadAverages: Array<{ readonly at: string; readonly oneMinute: number }> = []
  const noteLoad = (at: string) => loadAverages.push({ at, oneMinute: round(loadavg()[0] ?? NaN, 2) })
  noteLoad("start")
  const cleanups: Array<() => Promise<void>> = []
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined)
  }
  try {
    const ferret = await startFerretDb()
    cleanups.push(ferret.stop)
    const redis = await startRedis()
    cleanups.push(redis.stop)
    const vhost = await startVhost(`herald-bench-${process.pid}`)
    cleanups.push(vhost.stop)
    const database = `bench_${process.pid}`
    const postgres = postgresBackendsOf(ferret.pid)
    const redisServer = () => pidsOfRedis(redis.port)
    const env = {
      MONGODB_URL: ferret.url,
      MONGODB_DATABASE: database,
      REDIS_URL: redis.url,
      REDIS_PREFIX: "bench:",
      AMQP_URL: vhost.url,
      RPC_SECRET: randomBytes(24).toString("base64url"),
      BCRYPT_COST: "4",
      RATE_LIMIT_MAX: "1000000000",
      AUTH_RATE_LIMIT_MAX: "1000000",
      LOG_LEVEL: "Warn"
    }
    const start = async (entry: string, extra: Record<string, string> = {}) => {
      const started = await startService(entry, { ...env, ...extra }, entry.startsWith("dist/") ? { runtime: "bundle" } : {})
      cleanups.push(started.stop)
      return started
    }

    // The deployed shape: each service its own process.
    const ports = { users: await freePort(), tasks: await freePort(), notifications: await freePort() }
    const urls = {
      USERS_URL: `http://127.0.0.1:${ports.users}/rpc/users`,
      TASKS_URL: `http://127.0.0.1:${ports.tasks}/rpc/tasks`,
      NOTIFICATIONS_URL: `http://127.0.0.1:${ports.notifications}/rpc/notifications`
    }
    const [users, tasks, notifications] = await Promise.all([
      startService("dist/users.mjs", { ...env, ...urls }, { port: ports.users, runtime: "bundle" }),
      startService("dist/tasks.mjs", { ...env, ...urls }, { port: ports.tasks, runtime: "bundle" }),
      startService("dist/notifications.mjs", { ...env, ...urls }, { port: ports.notifications, runtime: "bundle" })
    ])
    for (const started of [users, tasks, notifications]) cleanups.push(started.stop)
    const gateway = await start("dist/gateway.mjs", urls)
    const herald = { gateway, users, tasks, notifications }
    const store = { ferretdb: ferret.pid, postgres }

    let idle: Record<string, { median: number; max: number }> | undefined
    if (runs("memory")) {
      console.log("4. idle memory of each service (80 s) …")
      idle = await idleRss(Object.fromEntries(Object.entries(herald).map(([name, p]) => [name, p.pid])))
    }

    // 1. The hot path: authenticated GET /api/tasks/:id, gateway → RPC → tasks → FerretDB.
    let hot: { heraldRun: { value: LoadResult; peaks: Record<string, number> }; bareRun: LoadResult; floorRun: LoadResult; expressRun: LoadResult } | undefined
    if (runs("hot")) {
      noteLoad("hot path")
      const user = await signUp(gateway.url, "bench")
      const created = await request(gateway.url, "/api/tasks", { token: user.token, body: { title: "the benchmark task" } })
      const taskId = text(created.body, "id")
      const path = `/api/tasks/${taskId}`
      console.log("1. hot path: Herald …")
      const heraldRun = await peakRss(
        herald,
        load(`${gateway.url}${path}`, { authorization: `Bearer ${user.token}` }, { gateway: gateway.pid, tasks: tasks.pid, ...store })
      )
      const bare = await start("bench/baselines/bare.ts")
      console.log("1. hot path: bare node:http …")
      const bareRun = await load(`${bare.url}${path}`, {}, { server: bare.pid, ...store })
      await bare.stop()
      const floor = await start("bench/baselines/effect-floor.ts")
      console.log("1. hot path: Effect HttpApi floor …")
      const floorRun = await load(`${floor.url}${path}`, {}, { server: floor.pid, ...store })
      await floor.stop()
      const expressTasks = await start("bench/baselines/express-tasks.ts")
      const expressGateway = await start("bench/baselines/express-gateway.ts", { TASKS_URL: expressTasks.url })
      console.log("1. hot path: Express + express-rate-limit + proxy …")
      const expressRun = await load(`${expressGateway.url}${path}`, {}, { gateway: expressGateway.pid, tasks: expressTasks.pid, ...store })
      await expressGateway.stop()
      await expressTasks.stop()
      hot = { heraldRun, bareRun, floorRun, expressRun }
    }

    // 2. The limiter alone, in this process, against raw INCR (one command per check), same client settings; 2 s
    // uncounted first, as the load runs do, because a cold code path measures the JIT (bench/README.md).
    let limiter: { limiterChecks: number; incrPerSecond: number; incrDefaultPerSecond: number } | undefined
    if (runs("limiter")) {
      noteLoad("limiter")
      console.log("2. rate limiter …")
      const redisConfig = { url: Redacted.make(redis.url), prefix: "bench:", connectRetries: 3 }
      const limiterChecks = await Effect.runPromise(
        Effect.gen(function*() {
          const limiter = yield* RateLimiter.RateLimiter
          const checksPerSecond = (durationSeconds: number) =>
            Effect.map(
              callsPerSecond((i) => limiter.hit(`bench-${i}`, 1_000_000_000, 600_000), connections, durationSeconds),
              (result) => result.perSecond
            )
          yield* checksPerSecond(2)
          return yield* checksPerSecond(seconds)
        }).pipe(
          Effect.provide(RateLimiter.layerRedis({ timeout: "1 second" }).pipe(Layer.provide(Redis.layer(redisConfig, { required: true })))),
          Effect.scoped
        )
      )
      // Raw INCR twice: with Herald's client settings (auto-pipelining, the ratio's baseline) and with ioredis' defaults.
      const rawIncr = async (autoPipelining: boolean) => {
        const raw = new IORedis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, enableAutoPipelining: autoPipelining })
        await new Promise((resolve) => raw.once("ready", resolve))
        const incrsPerSecond = async (durationSeconds: number) => {
          let count = 0
          const deadline = Date.now() + durationSeconds * 1000
          await Promise.all(Array.from({ length: connections }, async (_, i) => {
            while (Date.now() < deadline) {
              await raw.incr(`bench:raw-${i}`)
              count++
            }
          }))
          return count / durationSeconds
        }
        await incrsPerSecond(2)
        const perSecond = await incrsPerSecond(seconds)
        raw.disconnect()
        return perSecond
      }
      limiter = { limiterChecks, incrPerSecond: await rawIncr(true), incrDefaultPerSecond: await rawIncr(false) }
    }

    const mongo = await new MongoClient(ferret.url).connect()
    cleanups.push(() => mongo.close())

    let pipelines: { raw: { events: number; eventsPerSecond: number; p50: number; p99: number }; bare: PipelineResult; express: PipelineResult; herald: PipelineResult } | undefined
    if (runs("pipeline")) {
      // 3. The floor first: raw amqplib, publish with confirms + consume + insert of the same number of messages, no
      // HTTP, in a database of its own, on a quiet server (run after Herald's pipeline on SQLite it measured what that
      // run left behind).
      noteLoad("pipeline")
      console.log("3. event pipeline: raw amqplib floor …")
      const connection = await amqp.connect(vhost.url)
      const channel = await connection.createConfirmChannel()
      const queue = "bench.raw"
      await channel.assertQueue(queue, { durable: true })
      await channel.prefetch(64)
      const rawStore = mongo.db(`${database}_raw`).collection<{ _id: string; publishedAt: number; storedAt: number }>("raw_notifications")
      const rawLatencies: Array<number> = []
      let rawLast = 0
      const consumed = new Promise<void>((resolve) => {
        void channel.consume(queue, (message) => {
          if (message === null) return
          const body = JSON.parse(message.content.toString()) as { id: string; publishedAt: number }
          void rawStore.insertOne({ _id: body.id, publishedAt: body.publishedAt, storedAt: Date.now() }).then(() => {
            channel.ack(message)
            rawLast = Date.now()
            rawLatencies.push(rawLast - body.publishedAt)
            if (rawLatencies.length === eventCount) resolve()
          })
        })
      })
      const rawStart = Date.now()
      const envelope = { type: "task.created", schemaVersion: 1, userId: "usr_raw", data: { task: { title: "x".repeat(200) } } }
      for (let i = 0; i < eventCount; i++) {
        channel.publish("", queue, Buffer.from(JSON.stringify({ ...envelope, id: `raw-${i}`, publishedAt: Date.now() })), { persistent: true })
        if (i % 100 === 99) await channel.waitForConfirms()
      }
      await channel.waitForConfirms()
      await consumed
      await connection.close()
      const raw = {
        events: rawLatencies.length,
        eventsPerSecond: round(eventCount / ((rawLast - rawStart) / 1000)),
        p50: percentile(rawLatencies, 50),
        p99: percentile(rawLatencies, 99)
      }

      // (a) bare: node:http create (insert, publish, confirm) → amqplib consumer → insert. Same writers, same count.
      console.log(`3. event pipeline (a) bare node:http: ${eventCount} creates …`)
      const bareEnv = { MONGODB_DATABASE: `${database}_a`, BENCH_QUEUE: "bench.a" }
      const bareConsumer = await start("bench/baselines/pipeline-consumer.ts", bareEnv)
      const bareApi = await start("bench/baselines/pipeline-bare.ts", bareEnv)
      const bare = await pipelineRun({
        api: bareApi.url,
        body: (i) => ({ title: `pipeline ${i}`, assigneeId: "usr_bob" }),
        notifications: mongo.db(`${database}_a`).collection("notifications"),
        recipient: "usr_bob",
        measured: { api: bareApi.pid, consumer: bareConsumer.pid, ...store }
      })
      await bareApi.stop()
      await bareConsumer.stop()

      // (b) the seed's design: Express + express-rate-limit (Redis) + proxy → Express tasks (save, publish, confirm).
      console.log(`3. event pipeline (b) Express: ${eventCount} creates …`)
      const expressEnv = { MONGODB_DATABASE: `${database}_b`, BENCH_QUEUE: "bench.b" }
      const expressConsumer = await start("bench/baselines/pipeline-consumer.ts", expressEnv)
      const expressTasks = await start("bench/baselines/pipeline-express-tasks.ts", expressEnv)
      const expressGateway = await start("bench/baselines/express-gateway.ts", { TASKS_URL: expressTasks.url })
      const express = await pipelineRun({
        api: expressGateway.url,
        body: (i) => ({ title: `pipeline ${i}`, assigneeId: "usr_bob" }),
        notifications: mongo.db(`${database}_b`).collection("notifications"),
        recipient: "usr_bob",
        measured: { proxy: expressGateway.pid, tasks: expressTasks.pid, consumer: expressConsumer.pid, redis: redisServer, ...store }
      })
      await expressGateway.stop()
      await expressTasks.stop()
      await expressConsumer.stop()

      // Herald: Ada creates tasks in a project she shares with Bob, each assigned to him; Bob is told of each
      // (`task.assigned`). The creator is never told of her own act, so tasks of her own would notify nobody.
      console.log(`3. event pipeline: Herald, ${eventCount} creates …`)
      const ada = await signUp(gateway.url, "ada")
      const bob = await signUp(gateway.url, "bob")
      const project = await request(gateway.url, "/api/projects", { token: ada.token, body: { name: "the pipeline" } })
      const projectId = text(project.body, "id")
      const added = await request(gateway.url, `/api/projects/${projectId}/members`, { token: ada.token, body: { email: bob.email, role: "editor" } })
      if (project.status !== 201 || added.status !== 201) throw new Error(`pipeline setup failed: ${project.status} ${added.status} ${added.text}`)
      const heraldNotifications = mongo.db(database).collection("notifications")
      // Bob's own `project.member_added` first, so that it is not counted as one of the pipeline's.
      while ((await heraldNotifications.countDocuments({ userId: bob.userId })) < 1) await sleep(100)
      await heraldNotifications.deleteMany({ userId: bob.userId })
      const heraldPipeline = await pipelineRun({
        api: gateway.url,
        token: ada.token,
        body: (i) => ({ title: `pipeline ${i}`, projectId, assigneeId: bob.userId }),
        notifications: heraldNotifications,
        recipient: bob.userId,
        measured: { gateway: gateway.pid, users: users.pid, tasks: tasks.pid, notifications: notifications.pid, redis: redisServer, ...store }
      })
      pipelines = { raw, bare, express, herald: heraldPipeline }
    }

    let fan: FanoutResult | undefined
    let fanoutError: string | undefined
    if (runs("fanout")) {
      noteLoad("fan-out")
      console.log(`6. fan-out: one event to ${fanoutMembers - 1} members with open streams on two gateways …`)
      const second = await start("dist/gateway.mjs", urls)
      // A failure here (its setup writes a large project) must not lose the sections measured before it.
      fan = await fanout({
        gateways: [gateway, second],
        mongo,
        database,
        memberCount: fanoutMembers,
        measured: { gateway1: gateway.pid, gateway2: second.pid, users: users.pid, tasks: tasks.pid, notifications: notifications.pid, redis: redisServer, ...store }
      }).catch((error: unknown) => {
        fanoutError = error instanceof Error ? error.message : String(error)
        console.log(`fan-out failed: ${fanoutError}`)
        return undefined
      })
      if (fan !== undefined && fan.pushed < fan.expected) {
        // What the processes said about the pushes that did not arrive.
        for (const [name, p] of Object.entries({ gateway1: gateway, gateway2: second, notifications })) {
          writeFileSync(`${root}bench/fanout-${name}.log`, p.output())
        }
        console.log("fan-out: pushes missing; the processes' output is in bench/fanout-*.log")
      }
      await second.stop()
    }

    // 4 and 5. Memory of the all-in-one program and its cold start (process start → /ready 200).
    const coldStarts: Array<number> = []
    let allInOneIdle = NaN
    if (runs("memory")) {
      console.log("4-5. all-in-one cold start and idle memory …")
      // Runs 0 and 1: the bundle (what the images run); run 2: `npm start` (TypeScript through tsx).
      for (const run of [0, 1, 2]) {
        const port = await freePort()
        const begun = Date.now()
        const child = spawn(process.execPath, run === 2 ? ["--import", "tsx", `${root}services/all-in-one/src/main.ts`] : [`${root}dist/all-in-one.mjs`], {
          cwd: root,
          env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PORT: String(port), LOG_LEVEL: "Warn" },
          stdio: "ignore"
        })
        while (true) {
          const ok = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.status === 200, () => false)
          if (ok) break
          if (Date.now() - begun > 60_000) throw new Error("the all-in-one program did not become ready")
          await sleep(20)
        }
        coldStarts.push(Date.now() - begun)
        if (run === 0) allInOneIdle = (await idleRss({ allInOne: child.pid }, 60, 10)).allInOne?.median ?? NaN
        child.kill("SIGTERM")
        await new Promise((resolve) => child.once("exit", resolve))
      }
    }
    noteLoad("end")

    const ratio = (a: number, b: number) => round(a / b, 2)
    const results = {
      date: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        model: cpus()[0]?.model,
        memoryGiB: round(totalmem() / 2 ** 30),
        node: process.version,
        database: `FerretDB v1.24.2 (${ferret.backend === "postgresql" ? "PostgreSQL" : "SQLite"} backend)`,
        loadAverages
      },
      secondsPerRun: seconds,
      connections,
      ...(hot === undefined ? {} : {
        hotPath: {
          herald: hot.heraldRun.value,
          bareNode: hot.bareRun,
          expressProxy: hot.expressRun,
          effectFloor: hot.floorRun,
          ratioToBare: ratio(hot.heraldRun.value.rps, hot.bareRun.rps),
          ratioToExpress: ratio(hot.heraldRun.value.rps, hot.expressRun.rps),
          ratioToEffectFloor: ratio(hot.heraldRun.value.rps, hot.floorRun.rps),
          effectFloorRatioToBare: ratio(hot.floorRun.rps, hot.bareRun.rps)
        }
      }),
      ...(limiter === undefined ? {} : {
        rateLimiter: {
          heraldChecksPerSecond: round(limiter.limiterChecks),
          rawIncrPerSecond: round(limiter.incrPerSecond),
          rawIncrDefaultClientPerSecond: round(limiter.incrDefaultPerSecond),
          ratio: ratio(limiter.limiterChecks, limiter.incrPerSecond)
        }
      }),
      ...(pipelines === undefined ? {} : {
        pipeline: {
          events: eventCount,
          writers,
          herald: pipelines.herald,
          bareNode: pipelines.bare,
          express: pipelines.express,
          rawAmqplib: pipelines.raw,
          ratioToBare: ratio(pipelines.herald.eventsPerSecond, pipelines.bare.eventsPerSecond),
          ratioToExpress: ratio(pipelines.herald.eventsPerSecond, pipelines.express.eventsPerSecond),
          ratioToRaw: ratio(pipelines.herald.eventsPerSecond, pipelines.raw.eventsPerSecond)
        }
      }),
      ...(fan === undefined ? {} : { fanout: fan }),
      ...(fanoutError === undefined ? {} : { fanoutError }),
      ...(runs("memory") ? { memoryMb: { idle, underHotPathLoad: hot?.heraldRun.peaks, allInOneIdle }, coldStartMs: { bundled: coldStarts.slice(0, 2), npmStart: coldStarts[2] } } : {}),
      targets: {
        ...(hot === undefined ? {} : {
          hotPathAtLeastHalfOfBare: ratio(hot.heraldRun.value.rps, hot.bareRun.rps) >= 0.5,
          hotPathAtLeast3xExpress: ratio(hot.heraldRun.value.rps, hot.expressRun.rps) >= 3
        }),
        ...(limiter === undefined ? {} : { limiterAtLeast80PercentOfIncr: ratio(limiter.limiterChecks, limiter.incrPerSecond) >= 0.8 }),
        ...(pipelines === undefined ? {} : {
          pipelineAtLeast1_5xExpressWithLowerP99: ratio(pipelines.herald.eventsPerSecond, pipelines.express.eventsPerSecond) >= 1.5 &&
            pipelines.herald.p99 < pipelines.express.p99,
          pipelineAtLeastHalfOfBare: ratio(pipelines.herald.eventsPerSecond, pipelines.bare.eventsPerSecond) >= 0.5,
          pipelineP99Under500Ms: pipelines.herald.p99 < 500,
          pipelineLostNothing: pipelines.herald.events === eventCount
        }),
        ...(fan === undefined ? {} : { fanoutAllPushedWithin2s: fan.pushed === fan.expected && fan.pushedMs.max <= 2_000 }),
        ...(idle === undefined ? {} : { idleRssUnder120MbEach: Object.values(idle).every((mb) => mb.median < 120) })
      }
    }
    // A partial run (BENCH_ONLY) writes the same file, holding only its sections.
    writeFileSync(`${root}bench/results.json`, `${JSON.stringify(results, null, 2)}\n`)

    const rows: Array<[string, string, string, string]> = []
    if (hot !== undefined) {
      const { heraldRun, bareRun, expressRun, floorRun } = hot
      rows.push(
        ["hot path GET /api/tasks/:id (50 conn.)", "req/s · p50 · p99 ms", "", ""],
        ["  Herald: gateway → RPC → tasks → DB", `${heraldRun.value.rps} · ${heraldRun.value.p50} · ${heraldRun.value.p99}`, "", `non-2xx ${heraldRun.value.non2xx}, errors ${heraldRun.value.errors}; ${loadCpu(heraldRun.value)}`],
        ["  (a) bare node:http + same read", `${bareRun.rps} · ${bareRun.p50} · ${bareRun.p99}`, `${ratio(heraldRun.value.rps, bareRun.rps)}×`, `target ≥ 0.5×; ${loadCpu(bareRun)}`],
        ["  (b) Express + express-rate-limit + proxy", `${expressRun.rps} · ${expressRun.p50} · ${expressRun.p99}`, `${ratio(heraldRun.value.rps, expressRun.rps)}×`, `target ≥ 3×; ${loadCpu(expressRun)}`],
        ["  (c) Effect HttpApi + same read, nothing else", `${floorRun.rps} · ${floorRun.p50} · ${floorRun.p99}`, `${ratio(heraldRun.value.rps, floorRun.rps)}×`, `reference, no target: (c) is ${ratio(floorRun.rps, bareRun.rps)}× of (a); ${loadCpu(floorRun)}`]
      )
    }
    if (limiter !== undefined) {
      rows.push(["rate limiter checks/s (50 concurrent)", `${round(limiter.limiterChecks)}`, `${ratio(limiter.limiterChecks, limiter.incrPerSecond)}×`, `raw INCR ${round(limiter.incrPerSecond)}/s (same client settings; default client ${round(limiter.incrDefaultPerSecond)}/s); target ≥ 0.8×`])
    }
    if (pipelines !== undefined) {
      const line = (name: string, run: PipelineResult, versus: string) =>
        [name, `${run.eventsPerSecond} · ${run.p50} · ${run.p99} · ${run.max}`, versus, `${run.events}/${eventCount} stored, accepted ${run.acceptedPerSecond} creates/s, ${run.failedCreates} failed; ${cpuSummary(run.cpuMsPerEvent, "event")}`] as [string, string, string, string]
      const h = pipelines.herald
      rows.push(
        [`pipeline, ${eventCount} creates by ${writers} writers → notification stored`, "events/s · p50 · p99 · max ms", "", ""],
        line("  Herald: gateway → tasks → outbox → RabbitMQ → notifications", h, ""),
        line("  (a) bare node:http create + confirm → amqplib consumer", pipelines.bare, `${ratio(h.eventsPerSecond, pipelines.bare.eventsPerSecond)}×`),
        line("  (b) Express + limit (Redis) + proxy → Express tasks → amqplib consumer", pipelines.express, `${ratio(h.eventsPerSecond, pipelines.express.eventsPerSecond)}×`),
        ["  raw amqplib publish-confirm + consume + insert (floor, no HTTP)", `${pipelines.raw.eventsPerSecond} · ${pipelines.raw.p50} · ${pipelines.raw.p99}`, `${ratio(h.eventsPerSecond, pipelines.raw.eventsPerSecond)}×`, ""]
      )
    }
    if (fan !== undefined) {
      rows.push([
        `fan-out: 1 event → ${fan.expected} members, streams on 2 gateways`,
        `stored p50 ${fan.storedMs.p50} · p99 ${fan.storedMs.p99} · max ${fan.storedMs.max} ms; pushed p50 ${fan.pushedMs.p50} · p99 ${fan.pushedMs.p99} · max ${fan.pushedMs.max} ms; counts p50 ${fan.countsMs.p50} · max ${fan.countsMs.max} ms`,
        "",
        `${fan.stored} stored, ${fan.pushed} pushed; ${fan.storedPerSecond} stored/s; write answered in ${fan.writeMs} ms; all seen stored at ${fan.allStoredSeenMs} ms; ${cpuSummary(fan.cpuMsPerNotification, "notification")}`
      ])
    }
    if (idle !== undefined) {
      rows.push(
        ["idle RSS MB, median (max)", Object.entries(idle).map(([k, v]) => `${k} ${v.median} (${v.max})`).join(", "), "", `all-in-one ${allInOneIdle}; target < 120 each`],
        ["cold start to /ready (all-in-one)", `bundle ${coldStarts.slice(0, 2).join(", ")} ms`, "", `npm start (tsx) ${coldStarts[2]} ms`]
      )
    }
    if (hot !== undefined) rows.push(["RSS MB under hot-path load", Object.entries(hot.heraldRun.peaks).map(([k, v]) => `${k} ${v}`).join(", "), "", ""])
    const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((row) => row[c]?.length ?? 0)))
    console.log("")
    for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join("  ").trimEnd())
    console.log("")
    console.log(`load average (1 min): ${loadAverages.map((l) => `${l.at} ${l.oneMinute}`).join(", ")}`)
    console.log(`targets: ${Object.entries(results.targets).map(([k, v]) => `${k} ${v ? "met" : "MISSED"}`).join("; ")}`)
    console.log("wrote bench/results.json")
  } finally {
    await stopAll()
  }
}

await main()
