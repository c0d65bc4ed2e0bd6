import { describe, expect, it, layer } from "@effect/vitest"
import { normaliseIdempotencyKey } from "@herald/domain/Idempotency"
import { eventually, field, type Reply, request, signUp, sleep, text } from "@herald/testing/Http"
import { startRedis } from "@herald/testing/RedisServer"
import { startService } from "@herald/testing/Services"
import { Context, Duration, Effect, FastCheck as fc, Layer } from "effect"
import { Redis as IORedis } from "ioredis"
import { cluster } from "@herald/testing/Cluster"
import * as System from "@herald/testing/System"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

const keyed = (key: string) => ({ "idempotency-key": key })

const freshKey = () => crypto.randomUUID()

/** The caller's tasks (every one: the tests make few). */
const tasksOf = async (url: string, token: string) => {
  const reply = await request(url, "/api/tasks?limit=100", { token })
  return (field(reply.body, "items") as ReadonlyArray<unknown>).map((task) => ({ id: text(task, "id"), title: text(task, "title") }))
}

const projectsOf = async (url: string, token: string) =>
  (field((await request(url, "/api/projects?limit=100", { token })).body, "items") as ReadonlyArray<unknown>).length

/** What a client can compare between two answers: status, body, Location. */
const seen = (reply: Reply) => ({ status: reply.status, body: reply.body, location: reply.headers.get("location") })

const expectReplayOf = (first: Reply, again: Reply) => {
  expect(first.headers.get("idempotent-replayed")).toBeNull()
  expect(again.headers.get("idempotent-replayed")).toBe("true")
  expect(seen(again)).toEqual(seen(first))
}

describe("idempotent creates", () => {
  layer(System.layer("idem"), { timeout: Duration.seconds(120), excludeTestServices: true })("one gateway on Redis", (it) => {
    it.effect("a repeated task create with the same key and body replays the first response and creates nothing new", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const user = yield* promise(() => signUp(url, "idem"))
        const key = freshKey()
        const first = yield* promise(() => request(url, "/api/tasks", { token: user.token, body: { title: "Once", priority: "high" }, headers: keyed(key) }))
        expect(first.status).toBe(201)
        // The same body, spelt differently (key order, spacing), is the same request.
        const again = yield* promise(() =>
          request(url, "/api/tasks", {
            token: user.token,
            raw: "{ \"priority\": \"high\",\n \"title\": \"Once\" }",
            headers: { ...keyed(key), "content-type": "application/json" }
          })
        )
        expectReplayOf(first, again)
        const viaAlias = yield* promise(() => request(url, "/api/tasks/upload", { token: user.token, body: { title: "Once", priority: "high" }, headers: keyed(key) }))
        expect(viaAlias.status).toBe(422)
        expect(yield* promise(() => tasksOf(url, user.token))).toEqual([{ id: text(first.body, "id"), title: "Once" }])
        // The draft's quoted form names the same key.
        const quoted = yield* promise(() => request(url, "/api/tasks", { token: user.token, body: { title: "Once", priority: "high" }, headers: keyed(`"${key}"`) }))
        expectReplayOf(first, quoted)
      }))

    it.effect("a keyed task create retried after its answer was lost (the gateway kept no record, as after a 503) makes no second task", () =>
      Effect.gen(function*() {
        const { env, url } = yield* System.TestSystem
        const user = yield* promise(() => signUp(url, "idem-lost"))
        const key = freshKey()
        const call = { token: user.token, body: { title: "Exactly once" }, headers: keyed(key) }
        const first = yield* promise(() => request(url, "/api/tasks", call))
        expect(first.status).toBe(201)
        // What a dropped service connection leaves: the task was written, the gateway released the key.
        const redis = new IORedis(env.REDIS_URL ?? "", { lazyConnect: true, maxRetriesPerRequest: 1 })
        yield* promise(async () => {
          const records = await redis.keys(`${env.REDIS_PREFIX}idem:*`)
          if (records.length > 0) await redis.del(...records)
          redis.disconnect()
        })
        const retried = yield* promise(() => request(url, "/api/tasks", call))
        expect(retried.status).toBe(201)
        expect(retried.headers.get("idempotent-replayed")).toBeNull()
        expect(text(retried.body, "id")).toBe(text(first.body, "id"))
        expect(yield* promise(() => tasksOf(url, user.token))).toEqual([{ id: text(first.body, "id"), title: "Exactly once" }])
      }))

    it.effect("every creating POST replays: the task alias, projects, exports and registration", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const user = yield* promise(() => signUp(url, "idem-all"))
        const twice = (path: string, body: unknown, token?: string) =>
          Effect.gen(function*() {
            const key = freshKey()
            const call = { body, headers: keyed(key), ...(token === undefined ? {} : { token }) }
            const first = yield* promise(() => request(url, path, call))
            const again = yield* promise(() => request(url, path, call))
            expectReplayOf(first, again)
            return first
          })
        expect((yield* twice("/api/tasks/upload", { title: "Via the alias" }, user.token)).status).toBe(201)
        expect((yield* twice("/api/projects", { name: "Launch" }, user.token)).status).toBe(201)
        expect((yield* twice("/api/exports", { format: "json" }, user.token)).status).toBe(202)
        expect(yield* promise(() => tasksOf(url, user.token))).toHaveLength(1)
        expect(yield* promise(() => projectsOf(url, user.token))).toBe(1)
        const email = `idem-${freshKey()}@example.com`
        const registered = yield* twice("/api/users/register", { email, password: "correct horse battery", name: "Ida" })
        expect(registered.status).toBe(201)
        expect(text(registered.body, "user", "email")).toBe(email)
      }))

    it.effect("the same key with another body is 422 idempotency_key_mismatch and creates nothing", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const user = yield* promise(() => signUp(url, "idem-422"))
        const key = freshKey()
        const first = yield* promise(() => request(url, "/api/tasks", { token: user.token, body: { title: "First" }, headers: keyed(key) }))
        expect(first.status).toBe(201)
        const other = yield* promise(() => request(url, "/api/tasks", { token: user.token, body: { title: "Second" }, headers: keyed(key) }))
        expect(other.status).toBe(422)
        expect(other.body).toEqual({ error: { code: "idempotency_key_mismatch", message: expect.any(String) } })
        expect(yield* promise(() => tasksOf(url, user.token))).toHaveLength(1)
      }))

    it.effect("keys belong to their user: another user's same key is a create of its own", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const [ada, bob] = yield* promise(() => Promise.all([signUp(url, "idem-ada"), signUp(url, "idem-bob")]))
        const key = freshKey()
        const byAda = yield* promise(() => request(url, "/api/tasks", { token: ada.token, body: { title: "Mine" }, headers: keyed(key) }))
        const byBob = yield* promise(() => request(url, "/api/tasks", { token: bob.token, body: { title: "Mine" }, headers: keyed(key) }))
        expect([byAda.status, byBob.status]).toEqual([201, 201])
        expect(byBob.headers.get("idempotent-replayed")).toBeNull()
        expect(text(byBob.body, "id")).not.toBe(text(byAda.body, "id"))
      }))

    it.effect("concurrent requests with one key create exactly one task; the others get 409 conflict or the replay", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const user = yield* promise(() => signUp(url, "idem-race"))
        const key = freshKey()
        const replies = yield* promise(() =>
          Promise.all(Array.from({ length: 12 }, () => request(url, "/api/tasks", { token: user.token, body: { title: "Race" }, headers: keyed(key) })))
        )
        const tasks = yield* promise(() => tasksOf(url, user.token))
        expect(tasks).toHaveLength(1)
        const created = replies.filter((r) => r.status === 201)
        expect(created.filter((r) => r.headers.get("idempotent-replayed") === null)).toHaveLength(1)
        expect(created.every((r) => text(r.body, "id") === tasks[0]?.id)).toBe(true)
        const refused = replies.filter((r) => r.status !== 201)
        expect(refused.every((r) => r.status === 409 && field(r.body, "error", "code") === "conflict")).toBe(true)
      }))

    it.effect("a malformed key is 400 validation_failed and creates nothing; without a key every create is its own", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const user = yield* promise(() => signUp(url, "idem-400"))
        for (const bad of ["", "x".repeat(256), "two words", "caf\u00e9"]) {
          const reply = yield* promise(() =>
            request(url, "/api/tasks", { token: user.token, body: { title: "Bad key" }, headers: { "idempotency-key": bad } })
          )
          expect(reply.status, JSON.stringify(bad)).toBe(400)
          expect(field(reply.body, "error", "code")).toBe("validation_failed")
        }
        expect(yield* promise(() => tasksOf(url, user.token))).toHaveLength(0)
        const longest = yield* promise(() =>
          request(url, "/api/tasks", { token: user.token, body: { title: "Longest key" }, headers: keyed("k".repeat(255)) })
        )
        expect(longest.status).toBe(201)
        yield* Effect.forEach([1, 2], () => promise(() => request(url, "/api/tasks", { token: user.token, body: { title: "No key" } })))
        expect(yield* promise(() => tasksOf(url, user.token))).toHaveLength(3)
      }))

    it.effect("a client error is replayed rather than run again", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const user = yield* promise(() => signUp(url, "idem-404"))
        const key = freshKey()
        const body = { title: "In a missing project", projectId: "prj_doesnotexist0000000000" }
        const first = yield* promise(() => request(url, "/api/tasks", { token: user.token, body, headers: keyed(key) }))
        expect(first.status).toBeGreaterThanOrEqual(400)
        expect(first.status).toBeLessThan(500)
        const again = yield* promise(() => request(url, "/api/tasks", { token: user.token, body, headers: keyed(key) }))
        expectReplayOf(first, again)
      }))

    it.effect("the OpenAPI document lists the Idempotency-Key header and its 409 and 422 on every creating POST", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const spec = (yield* promise(() => request(url, "/openapi.json"))).body
        for (const path of ["/api/users/register", "/api/projects", "/api/tasks", "/api/tasks/upload", "/api/exports"]) {
          const operation = field(spec, "paths", path, "post")
          const parameters = field(operation, "parameters") as ReadonlyArray<unknown>
          expect(parameters.some((p) => field(p, "in") === "header" && field(p, "name") === "idempotency-key"), path).toBe(true)
          expect(field(operation, "responses", "409"), path).toBeDefined()
          expect(field(operation, "responses", "422"), path).toBeDefined()
        }
        const login = field(spec, "paths", "/api/users/login", "post", "parameters")
        expect(JSON.stringify(login ?? [])).not.toContain("idempotency-key")
      }))

    it.effect("property: N concurrent requests with random keys and bodies create exactly one task per distinct key", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const key = fc.stringMatching(/^[\x21-\x7E]{1,24}$/)
        const requests = fc.uniqueArray(key, { minLength: 1, maxLength: 4 }).chain((pool) =>
          fc.array(fc.record({ key: fc.constantFrom(...pool), title: fc.constantFrom("alpha", "beta") }), { minLength: 2, maxLength: 20 })
        )
        let sent = 0
        yield* promise(() =>
          fc.assert(
            fc.asyncProperty(requests, async (calls) => {
              const user = await signUp(url, "idem-prop")
              const replies = await Promise.all(calls.map((call) =>
                request(url, "/api/tasks", { token: user.token, body: { title: call.title }, headers: keyed(call.key) })
              ))
              sent += calls.length
              const tasks = await tasksOf(url, user.token)
              const keys = new Set(calls.map((call) => normaliseIdempotencyKey(call.key)))
              expect(tasks).toHaveLength(keys.size)
              for (const one of keys) {
                const mine = calls.flatMap((call, i) => normaliseIdempotencyKey(call.key) === one ? [{ call, reply: replies[i] }] : [])
                const created = mine.filter(({ reply }) => reply?.status === 201)
                const ids = new Set(created.map(({ reply }) => text(reply?.body, "id")))
                expect(ids.size).toBe(1)
                const title = text(created[0]?.reply?.body, "title")
                for (const { call, reply } of mine) {
                  expect(call.title === title ? [201, 409] : [422]).toContain(reply?.status)
                }
              }
            }),
            { numRuns: 20 }
          )
        )
        console.log(`idempotency property: ${sent} keyed creates in 20 runs`)
      }), { timeout: 120_000 })
  })

  layer(System.layer("idem-mem", { embedded: true }), { timeout: Duration.seconds(60), excludeTestServices: true })("embedded default", (it) => {
    it.effect("the in-memory twin replays and refuses like Redis does", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const user = yield* promise(() => signUp(url, "idem-mem"))
        const key = freshKey()
        const first = yield* promise(() => request(url, "/api/tasks", { token: user.token, body: { title: "Once" }, headers: keyed(key) }))
        const again = yield* promise(() => request(url, "/api/tasks", { token: user.token, body: { title: "Once" }, headers: keyed(key) }))
        expectReplayOf(first, again)
        const other = yield* promise(() => request(url, "/api/tasks", { token: user.token, body: { title: "Twice" }, headers: keyed(key) }))
        expect(other.status).toBe(422)
        expect(yield* promise(() => tasksOf(url, user.token))).toHaveLength(1)
      }))
  })

  it.live("browsers on a configured origin may send Idempotency-Key and read Idempotent-Replayed (CORS)", () =>
    Effect.gen(function*() {
      const origin = "https://app.example.com"
      const context = yield* Layer.build(System.layer("idem-cors", { env: { CORS_ORIGINS: origin } }))
      const { url } = Context.get(context, System.TestSystem)
      const preflight = yield* promise(() =>
        request(url, "/api/tasks", {
          method: "OPTIONS",
          headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, idempotency-key" }
        })
      )
      expect(preflight.headers.get("access-control-allow-headers") ?? "").toContain("idempotency-key")
      const user = yield* promise(() => signUp(url, "idem-cors"))
      const call = { token: user.token, body: { title: "From a browser" }, headers: { origin, ...keyed(freshKey()) } }
      yield* promise(() => request(url, "/api/tasks", call))
      const again = yield* promise(() => request(url, "/api/tasks", call))
      expect(again.headers.get("idempotent-replayed")).toBe("true")
      expect(again.headers.get("access-control-expose-headers") ?? "").toContain("idempotent-replayed")
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("a create whose client goes away still finishes and is kept: a retry gets 409 while it runs, then the replay", () =>
    Effect.gen(function*() {
      const slow = { collection: "tasks", delay: Duration.millis(1500) }
      const context = yield* Layer.build(System.layer("idem-abort", { slowInserts: slow }))
      const { url } = Context.get(context, System.TestSystem)
      const user = yield* promise(() => signUp(url, "idem-abort"))
      const key = freshKey()
      const call = { token: user.token, body: { title: "Abandoned" }, headers: keyed(key) }
      const abort = new AbortController()
      const abandoned = fetch(`${url}/api/tasks`, {
        method: "POST",
        headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json", ...keyed(key) },
        body: JSON.stringify(call.body),
        signal: abort.signal
      }).then(() => "answered", () => "aborted")
      yield* promise(() => sleep(300))
      abort.abort()
      expect(yield* promise(() => abandoned)).toBe("aborted")
      expect((yield* promise(() => request(url, "/api/tasks", call))).status).toBe(409)
      const replayed = yield* promise(() => eventually(() => request(url, "/api/tasks", call), (r) => r.status !== 409, 15_000))
      expect(replayed.status).toBe(201)
      expect(replayed.headers.get("idempotent-replayed")).toBe("true")
      expect(yield* promise(() => tasksOf(url, user.token))).toHaveLength(1)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("with Redis unreachable a keyed create is refused with 503 dependency_unavailable, an unkeyed one still served", () =>
    Effect.gen(function*() {
      const redis = yield* Effect.acquireRelease(promise(() => startRedis()), (server) => promise(server.stop))
      const context = yield* Layer.build(System.layer("idem-down", { env: { REDIS_URL: redis.url } }))
      const { url } = Context.get(context, System.TestSystem)
      const user = yield* promise(() => signUp(url, "idem-down"))
      yield* promise(redis.stop)
      const keyedReply = yield* promise(() => request(url, "/api/tasks", { token: user.token, body: { title: "Keyed" }, headers: keyed(freshKey()) }))
      expect(keyedReply.status).toBe(503)
      expect(field(keyedReply.body, "error", "code")).toBe("dependency_unavailable")
      expect(keyedReply.headers.get("retry-after")).toBe("1")
      const plain = yield* promise(() => request(url, "/api/tasks", { token: user.token, body: { title: "Plain" } }))
      expect(plain.status).toBe(201)
      expect((yield* promise(() => tasksOf(url, user.token))).map((task) => task.title)).toEqual(["Plain"])
    }).pipe(Effect.scoped), { timeout: 120_000 })

  it.live("across two gateway processes and a restart: one create per key, replays anywhere, and a 503 is not replayed", () =>
    Effect.gen(function*() {
      const herald = yield* cluster(System.testEnv("idem-cluster"), { gateways: 2, notifications: 1 })
      const [a, b] = herald.gateways
      if (a === undefined || b === undefined) return yield* Effect.dieMessage("gateways did not start")
      const user = yield* promise(() => signUp(a.url, "idem-cluster"))
      const create = (url: string, key: string, title = "Shared") =>
        promise(() => request(url, "/api/tasks", { token: user.token, body: { title }, headers: keyed(key) }))

      const key = freshKey()
      const first = yield* create(a.url, key)
      expect(first.status).toBe(201)
      expectReplayOf(first, yield* create(b.url, key))

      // One key raced over both copies.
      const raced = freshKey()
      const replies = yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b)), (g) => create(g.url, raced, "Raced"), {
        concurrency: "unbounded"
      })
      expect(replies.filter((r) => r.status === 201 && r.headers.get("idempotent-replayed") === null)).toHaveLength(1)
      expect(replies.every((r) => r.status === 201 || r.status === 409)).toBe(true)
      expect(yield* promise(() => tasksOf(a.url, user.token))).toHaveLength(2)

      // A gateway restarted (a new process on the same port) still replays.
      yield* promise(a.stop)
      const restarted = yield* Effect.acquireRelease(
        promise(() => startService("services/gateway/src/main.ts", herald.envOf(a), { port: a.port })),
        (g) => promise(g.stop)
      )
      expectReplayOf(first, yield* create(restarted.url, key))

      // A 5xx is not kept: with the tasks service down the create fails, and the same key works once it is back.
      yield* promise(herald.tasks.kill)
      const failed = freshKey()
      const down = yield* create(b.url, failed, "After the outage")
      expect(down.status).toBe(503)
      yield* Effect.acquireRelease(
        promise(() => startService("services/tasks/src/main.ts", herald.envOf(herald.tasks), { port: herald.tasks.port })),
        (t) => promise(t.stop)
      )
      const retried = yield* create(b.url, failed, "After the outage")
      expect(retried.status).toBe(201)
      expect(retried.headers.get("idempotent-replayed")).toBeNull()
      expect(yield* promise(() => tasksOf(b.url, user.token))).toHaveLength(3)
    }).pipe(Effect.scoped), { timeout: 180_000 })
})
