import { describe, expect, it } from "@effect/vitest"
import { eventually, field, request, signUp, tellUser, text } from "@herald/testing/Http"
import { findBinary, freePort } from "@herald/testing/Ports"
import { startService } from "@herald/testing/Services"
import { Effect } from "effect"
import { execFile, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { render } from "../../../infra/scripts/rabbitmq-definitions.ts"
import { connect, ofType } from "@herald/testing/Stream"
import * as System from "@herald/testing/System"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)
const root = new URL("../../../", import.meta.url).pathname
const entry = "services/all-in-one/src/main.ts"

/** The all-in-one program, as `npm start` runs it, with exactly `env` (plus PATH and HOME). */
const program = (env: Record<string, string>, runtime: "node" | "deno" = "node") =>
  Effect.acquireRelease(promise(() => startService(entry, env, { runtime })), (started) => promise(started.stop))

/** Runs `entry` (under tsx) with exactly `env` until it exits by itself: its exit code and what it printed. */
const runUntilExit = async (entry: string, env: Record<string, string>) => {
  const port = await freePort()
  return new Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(root, entry)], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", PORT: String(port), ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`${entry} did not exit within 45 s: ${stdout}${stderr}`))
    }, 45_000)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** Create a task, read it back, and hear of a teammate's act on the stream and in the notification list: the platform works. */
const smoke = (url: string) =>
  Effect.gen(function*() {
    const user = yield* promise(() => signUp(url, "smoke"))
    const stream = yield* Effect.orDie(connect(url, { token: user.token }))
    yield* promise(() => eventually(async () => stream.messages, (m) => ofType(m, "ready").length === 1))
    const created = yield* promise(() => request(url, "/api/tasks", { token: user.token, body: { title: "smoke" } }))
    expect(created.status).toBe(201)
    const read = yield* promise(() => request(url, `/api/tasks/${text(created.body, "id")}`, { token: user.token }))
    expect(field(read.body, "title")).toBe("smoke")
    yield* promise(() => tellUser(url, user))
    yield* promise(() => eventually(async () => ofType(stream.messages, "notification"), (m) => m.length === 1, 10_000))
    const listed = yield* promise(() => request(url, "/api/notifications", { token: user.token }))
    expect(field(listed.body, "items", 0, "type")).toBe("project.member_added")
  })

describe("npm start (the all-in-one program)", () => {
  it.live("with no configuration at all it runs on the embedded twins: /health and /ready are 200 and the platform works", () =>
    Effect.gen(function*() {
      const { metricsUrl, url } = yield* program({})
      expect((yield* promise(() => request(url, "/health"))).body).toEqual({ status: "ok" })
      const ready = yield* promise(() => request(url, "/ready"))
      expect(ready.status).toBe(200)
      expect(field(ready.body, "status")).toBe("ready")
      yield* smoke(url)
      // One internal metrics port for the four services of the process: the tasks relay's and the consumer's counters.
      const metrics = yield* promise(() => request(metricsUrl, ""))
      expect(metrics.text).toMatch(/^herald_outbox_published_total [1-9]/m)
      expect(metrics.text).toMatch(/^herald_consumer_messages_total\{.*\} [1-9]/m)
      expect((yield* promise(() => request(url, "/metrics"))).status).toBe(404)
    }).pipe(Effect.scoped), { timeout: 90_000 })

  it.live("with an unreachable REDIS_URL it keeps running: /ready is 503 and says which dependency is down", () =>
    Effect.gen(function*() {
      const started = yield* program({ REDIS_URL: "redis://127.0.0.1:1", REDIS_CONNECT_RETRIES: "1" })
      const ready = yield* promise(() => request(started.url, "/ready"))
      expect(ready.status).toBe(503)
      expect(field(ready.body, "status")).toBe("unavailable")
      expect(field(ready.body, "checks", "redis", "status")).toBe("down")
      expect(field(ready.body, "checks", "tasks", "status")).toBe("up")
      expect((yield* promise(() => request(started.url, "/health"))).status).toBe(200)
      // Still serving: the rate limiter fails open, the profile cache falls back to the store.
      const user = yield* promise(() => signUp(started.url, "no-redis"))
      expect((yield* promise(() => request(started.url, "/api/users/profile", { token: user.token }))).status).toBe(200)
    }).pipe(Effect.scoped), { timeout: 90_000 })

  it.live("a variable set to the empty string counts as unset: empty URLs run the embedded twins", () =>
    Effect.gen(function*() {
      const { url } = yield* program({ MONGODB_URL: "", REDIS_URL: " ", AMQP_URL: "", RATE_LIMIT_MAX: "", LOG_LEVEL: "" })
      const ready = yield* promise(() => request(url, "/ready"))
      expect(ready.status).toBe(200)
      expect(ready.headers.get("ratelimit-limit")).toBe(null)
      expect((yield* promise(() => request(url, "/openapi.json"))).headers.get("ratelimit-limit")).toBe("100")
    }).pipe(Effect.scoped), { timeout: 90_000 })

  it.live("a fatal start-up error is one log line without a stack trace, and exit code 1", () =>
    Effect.gen(function*() {
      const stopped = yield* promise(() =>
        runUntilExit(entry, { MONGODB_URL: "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200", MONGODB_CONNECT_RETRIES: "1" }))
      expect(stopped.code).toBe(1)
      expect(stopped.stderr).toBe("")
      const fatal = stopped.stdout.split("\n").filter((line) => line.includes("stopped:"))
      expect(fatal).toHaveLength(1)
      const message = field(JSON.parse(fatal[0] ?? "{}"), "message")
      expect(message).toBe("herald stopped: MongoConnectionError: cannot connect to MongoDB at mongodb://127.0.0.1:1")
      expect(stopped.stdout).not.toMatch(/\bat .*\.ts:\d+/)
    }), { timeout: 60_000 })

  it.live("a bad setting stops start-up with a message that names the variable", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.flip(Effect.tryPromise(() => startService(entry, { RATE_LIMIT_MAX: "lots" })))
      expect(String(failed.cause)).toMatch(/exited with 1/)
      expect(String(failed.cause)).toMatch(/configuration error.*RATE_LIMIT_MAX/)
    }), { timeout: 60_000 })
})

/** The files a bundled program loads at start: its entry and every chunk reached by static imports (not `import()`). */
const loadedAtStart = (program: string): ReadonlyArray<string> => {
  const seen = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    for (const [, target] of readFileSync(file, "utf8").matchAll(/(?:from|import)\s*"(\.\/[^"]+\.mjs)"/g)) {
      if (target !== undefined) visit(join(file, "..", target))
    }
  }
  visit(join(root, "dist", `${program}.mjs`))
  return [...seen]
}

describe("the bundle (npm run build, what the Docker image runs)", () => {
  it.live("builds; the bundled all-in-one program serves the platform and its docs page end to end on the real servers; no program loads the docs UI at start", () =>
    Effect.gen(function*() {
      yield* promise(() => promisify(execFile)(process.execPath, ["infra/scripts/build.mjs"], { cwd: root }))
      const { url } = yield* Effect.acquireRelease(
        promise(() => startService("dist/all-in-one.mjs", System.testEnv("bundle"), { runtime: "bundle" })),
        (started) => promise(started.stop)
      )
      expect((yield* promise(() => request(url, "/ready"))).status).toBe(200)
      yield* smoke(url)
      // The docs UI is a chunk of its own, loaded by the first request for it.
      const docs = yield* promise(() => request(url, "/docs"))
      expect([docs.status, docs.text.includes("api-reference")]).toEqual([200, true])
      // ...and no program loads it at start (an import from `@effect/platform`'s index would pull it in again).
      for (const program of ["all-in-one", "gateway", "users", "tasks", "notifications"]) {
        const files = loadedAtStart(program)
        expect(files.length).toBeGreaterThan(1)
        expect(files.filter((file) => readFileSync(file, "utf8").includes("@scalar/api-reference"))).toEqual([])
      }
    }).pipe(Effect.scoped), { timeout: 120_000 })
})

describe("on Deno 2", () => {
  it.live("the all-in-one program runs under Deno on the real servers, end to end, docs page included", () =>
    Effect.gen(function*() {
      const { url } = yield* program(System.testEnv("deno"), "deno")
      expect((yield* promise(() => request(url, "/ready"))).status).toBe(200)
      yield* smoke(url)
      // The docs UI is a chunk of its own, loaded by the first request for it.
      const docs = yield* promise(() => request(url, "/docs"))
      expect([docs.status, docs.text.includes("api-reference")]).toEqual([200, true])
    }).pipe(Effect.scoped), { timeout: 120_000 })
})

describe("each service on its own", () => {
  it.live("refuses to start without RPC_SECRET or with a placeholder secret of .env.example, in one line naming it", () =>
    Effect.gen(function*() {
      const placeholder = "change-me-to-a-long-random-string"
      const cases = [
        ["users", {}, "RPC_SECRET"],
        ["tasks", { RPC_SECRET: placeholder }, "RPC_SECRET"],
        ["notifications", { RPC_SECRET: "" }, "RPC_SECRET"],
        ["gateway", { RPC_SECRET: placeholder.toUpperCase() }, "RPC_SECRET"],
        ["tasks", { RPC_SECRET: "a-real-secret-of-some-length", AMQP_URL: `amqp://herald:${placeholder}@127.0.0.1:1` }, "AMQP_URL"]
      ] as const
      const outcomes = yield* Effect.forEach(cases, ([service, env]) =>
        promise(() => runUntilExit(`services/${service}/src/main.ts`, { LOG_FORMAT: "logfmt", ...env })), { concurrency: 2 })
      for (const [[service, , variable], stopped] of cases.map((c, i) => [c, outcomes[i]] as const)) {
        expect(stopped?.code).toBe(1)
        const fatal = (stopped?.stdout ?? "").split("\n").filter((line) => line.includes("stopped:"))
        expect(fatal).toHaveLength(1)
        expect(fatal[0]).toContain(`${service} stopped: configuration error`)
        expect(fatal[0]).toContain(variable)
        expect(fatal[0]).not.toContain(placeholder)
      }
    }), { timeout: 90_000 })
})

describe("deployment files", () => {
  it("infra/rabbitmq/definitions*.json are what the code declares (regenerate: npx tsx infra/scripts/rabbitmq-definitions.ts)", () => {
    expect(readFileSync(`${root}infra/rabbitmq/definitions.json`, "utf8")).toBe(render("classic"))
    expect(readFileSync(`${root}infra/rabbitmq/definitions.quorum.json`, "utf8")).toBe(render("quorum"))
  })

  it("flake.nix is a well-formed Nix expression (evaluating it needs nixpkgs, which this machine cannot fetch)", async () => {
    const nix = findBinary("nix-instantiate")
    if (nix === undefined) throw new Error("nix-instantiate was not found on PATH (Debian: apt-get install nix-bin)")
    const { stdout } = await promisify(execFile)(nix, ["--parse", "flake.nix"], { cwd: root })
    for (const output of ["devShells", "checks", "formatter"]) expect(stdout).toContain(output)
  })

  it("docker-compose.yml is valid with .env.example, and refuses to start without its secrets", async () => {
    const compose = findBinary("docker-compose")
    if (compose === undefined) throw new Error("docker-compose was not found on PATH (Debian: apt-get install docker-compose)")
    const run = promisify(execFile)
    const withExample = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" }
    await run(compose, ["--env-file", ".env.example", "config", "-q"], { cwd: root, env: withExample })
    const { stdout } = await run(compose, ["--env-file", ".env.example", "config"], { cwd: root, env: withExample })
    for (const service of ["mongo", "redis", "rabbitmq", "users", "tasks", "notifications", "gateway", "nginx"]) {
      expect(stdout).toMatch(new RegExp(`^  ${service}:$`, "m"))
    }
    expect(stdout).toMatch(/replicas: 2/)
    expect(stdout).toMatch(/appendonly yes|redis\.conf/)
    const empty = join(await mkdtemp(join(tmpdir(), "herald-compose-")), "empty.env")
    await writeFile(empty, "")
    const missing = await run(compose, ["--env-file", empty, "config", "-q"], { cwd: root, env: withExample }).then(
      () => "",
      (error: { stderr?: string }) => error.stderr ?? "failed"
    )
    expect(missing).toMatch(/RPC_SECRET|RABBITMQ_USER|RABBITMQ_PASSWORD/)
  })
})
