/**
 * `npm run bench` (bundles the services first, `npm run build`, and runs them as the images do): Herald's hot path, rate limiter and event pipeline, each next to a baseline measured in the same
 * run on the same servers (FerretDB, redis-server and a RabbitMQ vhost started here, loopback only), plus memory and
 * cold start. The hot path also runs against a reference with no target, Effect's HttpApi doing the same read and
 * nothing else, and reports each process's CPU time per request, so that the gap to the bare baseline can be split
 * between the framework and Herald's own work. Prints a table and writes bench/results.json. Bounded: about ten
 * minutes, then it stops.
 *
 * BENCH_SECONDS (default 8) sets the length of each load run; BENCH_EVENTS (default 1500) the pipeline size.
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
import { readFileSync, writeFileSync } from "node:fs"
import { cpus, totalmem } from "node:os"

const seconds = Number(process.env.BENCH_SECONDS ?? 8)
const eventCount = Number(process.env.BENCH_EVENTS ?? 1500)
const connections = 50
const root = new URL("../", import.meta.url).pathname

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const round = (n: number, digits = 0) => Number(n.toFixed(digits))
const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN
}
const rssMb = (pid: number | undefined): number => {
  if (pid === undefined) return NaN
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"))
    return round(Number(line?.replace(/\D+/g, "") ?? NaN) / 1024, 1)
  } catch {
    return NaN
  }
}

/** CPU time (user + system) a process has used so far, in ms; Linux's /proc counts it in 10 ms ticks (USER_HZ 100). */
const cpuMs = (pid: number | undefined): number => {
  if (pid === undefined) return NaN
  try {
    // Fields after the command name (which may hold spaces, hence the split on ") "): utime and stime are 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? []
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return NaN
  }
}

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
const load = async (url: string, headers: Record<string, string>, pids: Record<string, number | undefined>): Promise<LoadResult> => {
  await autocannon({ url, connections, duration: 2, headers })
  const before = Object.entries(pids).map(([name, pid]) => [name, pid, cpuMs(pid)] as const)
  const result = await autocannon({ url, connections, duration: seconds, headers })
  const requests = Math.max(1, result.requests.total)
  return {
    rps: round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    cpuMsPerRequest: Object.fromEntries(before.map(([name, pid, used]) => [name, round((cpuMs(pid) - used) / requests, 2)]))
  }
}

const cpuSummary = (run: LoadResult) =>
  `CPU ms/request: ${Object.entries(run.cpuMsPerRequest).map(([name, ms]) => `${name} ${ms}`).join(", ")}`

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
 * Idle RSS: V8 keeps the young generation it grew while starting until the process has been quiet for a while (its
 * memory reducer gave it back 30–70 s after start, measured), so "just started" is not "idle". After
 * `settleSeconds` without traffic, samples once a second for `sampleSeconds` and returns the median and the maximum
 * of each process (background work, such as the outbox relay's poll, still runs and still allocates).
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

const main = async () => {
  console.log(`Herald benchmarks: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; ${seconds} s per load run`)
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
    console.log("4. idle memory of each service (80 s) …")
    const idle = await idleRss(Object.fromEntries(Object.entries(herald).map(([name, p]) => [name, p.pid])))

    // 1. The hot path: authenticated GET /api/tasks/:id, gateway → RPC → tasks → FerretDB.
    const user = await signUp(gateway.url, "bench")
    const created = await request(gateway.url, "/api/tasks", { token: user.token, body: { title: "the benchmark task" } })
    const taskId = text(created.body, "id")
    const path = `/api/tasks/${taskId}`
    console.log("1. hot path: Herald …")
    const heraldRun = await peakRss(
      herald,
      load(`${gateway.url}${path}`, { authorization: `Bearer ${user.token}` }, { gateway: gateway.pid, tasks: tasks.pid, database: ferret.pid })
    )
    const bare = await start("bench/baselines/bare.ts")
    console.log("1. hot path: bare node:http …")
    const bareRun = await load(`${bare.url}${path}`, {}, { server: bare.pid, database: ferret.pid })
    await bare.stop()
    const floor = await start("bench/baselines/effect-floor.ts")
    console.log("1. hot path: Effect HttpApi floor …")
    const floorRun = await load(`${floor.url}${path}`, {}, { server: floor.pid, database: ferret.pid })
    await floor.stop()
    const expressTasks = await start("bench/baselines/express-tasks.ts")
    const expressGateway = await start("bench/baselines/express-gateway.ts", { TASKS_URL: expressTasks.url })
    console.log("1. hot path: Express + express-rate-limit + proxy …")
    const expressRun = await load(`${expressGateway.url}${path}`, {}, { gateway: expressGateway.pid, tasks: expressTasks.pid, database: ferret.pid })
    await expressGateway.stop()
    await expressTasks.stop()

    // 2. The limiter alone, in this process: Herald's limiter (checks of one event-loop turn in one script call) vs
    // raw INCR (one command per check), same client settings. Each runs 2 s uncounted first, as the load runs do: the
    // first seconds of a cold code path measure the JIT (Herald's limiter, cold: 79k/s, then 154k and 174k/s in the
    // same process; raw INCR 121k, 134k, 134k).
    console.log("2. rate limiter …")
    const redisConfig = { url: Redacted.make(redis.url), prefix: "bench:", connectRetries: 3 }
    const limiterChecks = await Effect.runPromise(
      Effect.gen(function*() {
        const limiter = yield* RateLimiter.RateLimiter
        const checksPerSecond = (durationSeconds: number) =>
          Effect.gen(function*() {
            let count = 0
            const deadline = Date.now() + durationSeconds * 1000
            const lane = (i: number) =>
              Effect.gen(function*() {
                while (Date.now() < deadline) {
                  yield* limiter.hit(`bench-${i}`, 1_000_000_000, 600_000)
                  count++
                }
              })
            yield* Effect.forEach(Array.from({ length: connections }, (_, i) => i), lane, { concurrency: "unbounded", discard: true })
            return count / durationSeconds
          })
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
    const incrPerSecond = await rawIncr(true)
    const incrDefaultPerSecond = await rawIncr(false)

    const mongo = await new MongoClient(ferret.url).connect()
    cleanups.push(() => mongo.close())
    // 3. The event pipeline's baseline first: raw amqplib, publish with confirms + consume + insert of the same number
    // of messages, in a database of its own. Run after Herald's pipeline it measured what that run left behind: after
    // the earlier outbox design's pipeline 146–181/s, after the current one 597/s, on a fresh server 491–664/s.
    console.log("3. event pipeline: raw amqplib baseline …")
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
    const rawPipeline = {
      events: rawLatencies.length,
      eventsPerSecond: round(eventCount / ((rawLast - rawStart) / 1000)),
      p50: percentile(rawLatencies, 50),
      p99: percentile(rawLatencies, 99)
    }

    // 3. The event pipeline: tasks created through the API → outbox → RabbitMQ → notification stored.
    console.log(`3. event pipeline: ${eventCount} tasks …`)
    const writer = await signUp(gateway.url, "pipeline")
    const createdAt = new Map<string, number>()
    const pipelineStart = Date.now()
    let next = 0
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < eventCount) {
        const i = next++
        const reply = await request(gateway.url, "/api/tasks", { token: writer.token, body: { title: `pipeline ${i}` } })
        if (reply.status === 201) createdAt.set(text(reply.body, "id"), Date.parse(text(reply.body, "createdAt")))
      }
    }))
    const acceptedMs = Date.now() - pipelineStart
    const stored = mongo.db(database).collection<{ _id: string; userId: string; createdAt: Date; data: { taskId?: string } }>("notifications")
    const deadline = Date.now() + 120_000
    let storedDocs: Array<{ createdAt: Date; data: { taskId?: string } }> = []
    while (Date.now() < deadline) {
      storedDocs = await stored.find({ userId: writer.userId }, { projection: { createdAt: 1, data: 1 } }).toArray()
      if (storedDocs.length >= createdAt.size) break
      await sleep(250)
    }
    const pipelineLatencies = storedDocs.flatMap((doc) => {
      const at = createdAt.get(doc.data.taskId ?? "")
      return at === undefined ? [] : [doc.createdAt.getTime() - at]
    })
    const lastStored = Math.max(...storedDocs.map((doc) => doc.createdAt.getTime()))
    const firstCreated = Math.min(...createdAt.values())
    const pipeline = {
      events: storedDocs.length,
      acceptedPerSecond: round(createdAt.size / (acceptedMs / 1000)),
      eventsPerSecond: round(storedDocs.length / ((lastStored - firstCreated) / 1000)),
      p50: percentile(pipelineLatencies, 50),
      p99: percentile(pipelineLatencies, 99)
    }

    // 4 and 5. Memory of the all-in-one program and its cold start (process start → /ready 200).
    console.log("4-5. all-in-one cold start and idle memory …")
    // Runs 0 and 1: the bundle (what the images run); run 2: `npm start` (TypeScript through tsx).
    const coldStarts: Array<number> = []
    let allInOneIdle = NaN
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

    const ratio = (a: number, b: number) => round(a / b, 2)
    const results = {
      machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGiB: round(totalmem() / 2 ** 30), node: process.version, database: `FerretDB v1.24.2 (${ferret.backend === "postgresql" ? "PostgreSQL" : "SQLite"} backend)` },
      secondsPerRun: seconds,
      connections,
      hotPath: {
        herald: heraldRun.value,
        bareNode: bareRun,
        expressProxy: expressRun,
        effectFloor: floorRun,
        ratioToBare: ratio(heraldRun.value.rps, bareRun.rps),
        ratioToExpress: ratio(heraldRun.value.rps, expressRun.rps),
        ratioToEffectFloor: ratio(heraldRun.value.rps, floorRun.rps),
        effectFloorRatioToBare: ratio(floorRun.rps, bareRun.rps)
      },
      rateLimiter: {
        heraldChecksPerSecond: round(limiterChecks),
        rawIncrPerSecond: round(incrPerSecond),
        rawIncrDefaultClientPerSecond: round(incrDefaultPerSecond),
        ratio: ratio(limiterChecks, incrPerSecond)
      },
      pipeline: { herald: pipeline, rawAmqplib: rawPipeline, ratio: ratio(pipeline.eventsPerSecond, rawPipeline.eventsPerSecond) },
      memoryMb: { idle, underHotPathLoad: heraldRun.peaks, allInOneIdle },
      coldStartMs: { bundled: coldStarts.slice(0, 2), npmStart: coldStarts[2] },
      targets: {
        hotPathAtLeastHalfOfBare: ratio(heraldRun.value.rps, bareRun.rps) >= 0.5,
        hotPathAtLeast3xExpress: ratio(heraldRun.value.rps, expressRun.rps) >= 3,
        limiterAtLeast80PercentOfIncr: ratio(limiterChecks, incrPerSecond) >= 0.8,
        pipelineAtLeastHalfOfRaw: ratio(pipeline.eventsPerSecond, rawPipeline.eventsPerSecond) >= 0.5,
        pipelineP99UnderOneSecond: pipeline.p99 < 1_000,
        idleRssUnder120MbEach: Object.values(idle).every((mb) => mb.median < 120)
      }
    }
    writeFileSync(`${root}bench/results.json`, `${JSON.stringify(results, null, 2)}\n`)

    const rows: Array<[string, string, string, string]> = [
      ["hot path GET /api/tasks/:id (50 conn.)", "req/s · p50 · p99 ms", "", ""],
      ["  Herald: gateway → RPC → tasks → DB", `${heraldRun.value.rps} · ${heraldRun.value.p50} · ${heraldRun.value.p99}`, "", `non-2xx ${heraldRun.value.non2xx}, errors ${heraldRun.value.errors}; ${cpuSummary(heraldRun.value)}`],
      ["  (a) bare node:http + same read", `${bareRun.rps} · ${bareRun.p50} · ${bareRun.p99}`, `${results.hotPath.ratioToBare}×`, `target ≥ 0.5×; ${cpuSummary(bareRun)}`],
      ["  (b) Express + express-rate-limit + proxy", `${expressRun.rps} · ${expressRun.p50} · ${expressRun.p99}`, `${results.hotPath.ratioToExpress}×`, `target ≥ 3×; ${cpuSummary(expressRun)}`],
      ["  (c) Effect HttpApi + same read, nothing else", `${floorRun.rps} · ${floorRun.p50} · ${floorRun.p99}`, `${results.hotPath.ratioToEffectFloor}×`, `reference, no target: (c) is ${results.hotPath.effectFloorRatioToBare}× of (a); ${cpuSummary(floorRun)}`],
      ["rate limiter checks/s (50 concurrent)", `${round(limiterChecks)}`, `${results.rateLimiter.ratio}×`, `raw INCR ${round(incrPerSecond)}/s (same client settings; default client ${round(incrDefaultPerSecond)}/s); target ≥ 0.8×`],
      [`pipeline ${eventCount} events: events/s · p50 · p99 ms`, `${pipeline.eventsPerSecond} · ${pipeline.p50} · ${pipeline.p99}`, `${results.pipeline.ratio}×`, `raw amqplib ${rawPipeline.eventsPerSecond}/s · ${rawPipeline.p50} · ${rawPipeline.p99}; API accepted ${pipeline.acceptedPerSecond}/s`],
      ["idle RSS MB, median (max)", Object.entries(idle).map(([k, v]) => `${k} ${v.median} (${v.max})`).join(", "), "", `all-in-one ${allInOneIdle}; target < 120 each`],
      ["RSS MB under hot-path load", Object.entries(heraldRun.peaks).map(([k, v]) => `${k} ${v}`).join(", "), "", ""],
      ["cold start to /ready (all-in-one)", `bundle ${coldStarts.slice(0, 2).join(", ")} ms`, "", `npm start (tsx) ${coldStarts[2]} ms`]
    ]
    const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((row) => row[c]?.length ?? 0)))
    console.log("")
    for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join("  ").trimEnd())
    console.log("")
    console.log(`targets: ${Object.entries(results.targets).map(([k, v]) => `${k} ${v ? "met" : "MISSED"}`).join("; ")}`)
    console.log("wrote bench/results.json")
  } finally {
    await stopAll()
  }
}

await main()
