import { describe, expect, it } from "@effect/vitest"
import { request, sleep } from "@herald/testing/Http"
import { servers } from "@herald/testing/Env"
import { startRedis } from "@herald/testing/RedisServer"
import { startService } from "@herald/testing/Services"
import { Context, Effect, Layer } from "effect"
import { Redis } from "ioredis"
import { clientAddress, limitKey } from "../src/ClientIp.ts"
import * as System from "@herald/testing/System"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

/** A system of its own with the given settings, alive for the rest of the test's scope. */
const system = (label: string, env: Record<string, string>) =>
  Effect.map(Layer.build(System.layer(label, { env })), (context) => Context.get(context, System.TestSystem))

const statuses = (replies: ReadonlyArray<{ readonly status: number }>) =>
  replies.reduce<Record<number, number>>((counts, reply) => ({ ...counts, [reply.status]: (counts[reply.status] ?? 0) + 1 }), {})

describe("client addresses", () => {
  it("come from the socket unless proxies are trusted, then from the entry the outermost trusted proxy appended", () => {
    expect(clientAddress("10.0.0.9", "6.6.6.6", 0)).toBe("10.0.0.9")
    expect(clientAddress("10.0.0.9", "6.6.6.6, 7.7.7.7", 1)).toBe("7.7.7.7")
    expect(clientAddress("10.0.0.9", "6.6.6.6, 7.7.7.7", 2)).toBe("6.6.6.6")
    expect(clientAddress("10.0.0.9", undefined, 1)).toBe("10.0.0.9")
  })

  it("are limited per IPv4 address and per IPv6 /64", () => {
    expect(limitKey("::ffff:192.0.2.7")).toBe("192.0.2.7")
    expect(limitKey("2001:db8:1:2:aaaa::1")).toBe("2001:0db8:0001:0002::/64")
    expect(limitKey("2001:db8:1:2:ffff:ffff:ffff:ffff")).toBe(limitKey("2001:db8:1:2::9"))
    expect(limitKey("2001:db8:1:3::1")).not.toBe(limitKey("2001:db8:1:2::1"))
    expect(limitKey("::1")).toBe("0000:0000:0000:0000::/64")
  })
})

describe("rate limiting", () => {
  it.live("two gateway processes sharing Redis admit exactly the budget, count down in their headers, and reset", () =>
    Effect.gen(function*() {
      const env = {
        ...System.testEnv("rl-two"),
        RATE_LIMIT_MAX: "40",
        // Exactness, not fail-open: a loaded machine must not make the limiter give up on Redis.
        RATE_LIMIT_REDIS_TIMEOUT: "5 seconds",
        RATE_LIMIT_WINDOW: "4 seconds",
        LOG_LEVEL: "Error",
        RPC_SECRET: "a shared secret the services would hold"
      }
      const gateways = yield* Effect.forEach([0, 1], () =>
        Effect.acquireRelease(promise(() => startService("services/gateway/src/main.ts", env)), (g) => promise(g.stop)), {
        concurrency: 2
      })
      const [a, b] = gateways
      if (a === undefined || b === undefined) return yield* Effect.dieMessage("gateways did not start")

      const first = yield* promise(() => request(a.url, "/openapi.json"))
      expect(first.status).toBe(200)
      expect(first.headers.get("ratelimit-policy")).toBe("\"default\";q=40;w=4")
      expect(first.headers.get("ratelimit")).toMatch(/^"default";r=39;t=[1-4]$/)
      expect(first.headers.get("ratelimit-limit")).toBe("40")
      const countdown = yield* Effect.forEach([a, b, a, b], (g) => promise(() => request(g.url, "/openapi.json")))
      expect(countdown.map((r) => r.headers.get("ratelimit-remaining"))).toEqual(["38", "37", "36", "35"])

      // A fresh window, then far more concurrent requests than the budget, spread over both gateways.
      yield* promise(() => sleep(Number(first.headers.get("ratelimit-reset")) * 1000 + 300))
      const burst = yield* Effect.forEach(Array.from({ length: 150 }, (_, i) => (i % 2 === 0 ? a : b)), (g) =>
        promise(() => request(g.url, "/openapi.json")), { concurrency: "unbounded" })
      expect(statuses(burst)).toEqual({ 200: 40, 429: 110 })
      const refused = burst.find((r) => r.status === 429)
      expect(refused?.headers.get("retry-after")).toMatch(/^[1-4]$/)
      expect(refused?.headers.get("ratelimit-remaining")).toBe("0")
      expect(refused?.body).toMatchObject({ error: { code: "rate_limited" } })

      yield* promise(() => sleep(Number(refused?.headers.get("retry-after") ?? 4) * 1000 + 300))
      expect((yield* promise(() => request(b.url, "/openapi.json"))).status).toBe(200)
    }).pipe(Effect.scoped), { timeout: 120_000 })

  it.live("a client's own X-Forwarded-For does not change its budget unless proxies are trusted", () =>
    Effect.gen(function*() {
      const direct = yield* system("rl-spoof", { RATE_LIMIT_MAX: "5", TRUSTED_PROXY_HOPS: "0" })
      const spoofed = yield* Effect.forEach(Array.from({ length: 6 }, (_, i) => i), (i) =>
        promise(() => request(direct.url, "/openapi.json", { headers: { "x-forwarded-for": `203.0.113.${i}` } })))
      expect(spoofed.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429])

      // Behind one trusted proxy the address is the proxy's last entry: clients are told apart, spoofed prefixes ignored.
      const proxied = yield* system("rl-proxy", { RATE_LIMIT_MAX: "2", TRUSTED_PROXY_HOPS: "1" })
      const as = (client: string, spoof = "1.1.1.1") =>
        promise(() => request(proxied.url, "/openapi.json", { headers: { "x-forwarded-for": `${spoof}, ${client}` } }))
      expect((yield* Effect.forEach(["a", "b", "c"], (spoof) => as("198.51.100.1", spoof))).map((r) => r.status)).toEqual([200, 200, 429])
      expect((yield* as("198.51.100.2")).status).toBe(200)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("login and registration have a stricter limit per address", () =>
    Effect.gen(function*() {
      const { url } = yield* system("rl-auth", { AUTH_RATE_LIMIT_MAX: "3", TRUSTED_PROXY_HOPS: "1" })
      const login = (email: string) =>
        promise(() =>
          request(url, "/api/users/login", {
            body: { email, password: "wrong-password" },
            headers: { "x-forwarded-for": "192.0.2.1" }
          })
        )
      const replies = yield* Effect.forEach(["a@example.com", "b@example.com", "c@example.com", "d@example.com"], login)
      expect(replies.map((r) => r.status)).toEqual([401, 401, 401, 429])
      expect(replies[0]?.headers.get("ratelimit-policy")).toBe("\"default\";q=1000000;w=720, \"auth\";q=3;w=900")
      expect(replies[3]?.body).toMatchObject({ error: { code: "rate_limited", details: { policy: "auth" } } })
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("other spellings of login and register (case, slashes, ;, percent-encoding) are 404 before any handler, so the auth limit holds", () =>
    Effect.gen(function*() {
      const { url } = yield* system("rl-spelling", { AUTH_RATE_LIMIT_MAX: "10" })
      const attempt = (path: string, call: { readonly raw?: string; readonly contentType?: string } = {}) =>
        promise(() =>
          request(url, path, {
            raw: call.raw ?? JSON.stringify({ email: "spelled@example.com", password: "wrong-password", name: "S" }),
            headers: { "content-type": call.contentType ?? "application/json" }
          })
        )
      const spellings = ["/api/users/login/", "/API/users/login", "//api/users/login", "/api/users/login;x", "/api/users/%6cogin", "/api/users/register/", "/api/Users/register"]
      for (const path of spellings) {
        const replies = yield* Effect.forEach(Array.from({ length: 12 }), () => attempt(path))
        expect({ path, statuses: statuses(replies) }).toEqual({ path, statuses: { 404: 12 } })
        expect(replies[0]?.body).toMatchObject({ error: { code: "not_found" } })
      }
      // Nor does any spelling skip the body guard's content-type check.
      const plain = (path: string) => Effect.map(attempt(path, { raw: "email=x", contentType: "text/plain" }), (r) => r.status)
      expect(yield* Effect.forEach(["/api/users/login", "/API/users/login", "/api/users/%6cogin"], plain)).toEqual([415, 415, 404])

      const canonical = yield* Effect.forEach(Array.from({ length: 12 }), () => attempt("/api/users/login"))
      expect(canonical.map((r) => r.status)).toEqual([...Array.from({ length: 10 }, () => 401), 429, 429])
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("per email only failures count: others cannot lock an owner out, and guesses at a locked email stay bounded per address", () =>
    Effect.gen(function*() {
      const { url } = yield* system("rl-lockout", { AUTH_RATE_LIMIT_MAX: "5", TRUSTED_PROXY_HOPS: "1" })
      const email = `owner-${Date.now()}@example.com`
      const password = "the owner's password"
      const post = (path: string, ip: string, body: Record<string, string>) =>
        promise(() => request(url, path, { body, headers: { "x-forwarded-for": ip } }))
      const login = (ip: string, pw: string) => post("/api/users/login", ip, { email, password: pw })
      expect((yield* post("/api/users/register", "198.51.100.10", { email, password, name: "Owner" })).status).toBe(201)
      // Successes are not failures: the owner logs in from six places, more than the budget of five.
      const successes = yield* Effect.forEach([11, 12, 13, 14, 15, 16], (n) => login(`198.51.100.${n}`, password))
      expect(successes.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200])

      // Two attackers fail three times each: the email has had its budget of failures.
      const guesses = yield* Effect.forEach(["203.0.113.1", "203.0.113.2"], (ip) =>
        Effect.forEach([1, 2, 3], (i) => login(ip, `guess-${ip}-${i}`)))
      expect(guesses.flat().map((r) => r.status)).toEqual([401, 401, 401, 401, 401, 401])
      // An address that failed three times on the locked email is refused there, even with the right password...
      const refused = yield* login("203.0.113.1", "guess-4")
      expect(refused.status).toBe(429)
      expect(refused.body).toMatchObject({ error: { code: "rate_limited", details: { policy: "auth" } } })
      expect((yield* login("203.0.113.2", password)).status).toBe(429)
      // ...a fresh attacking address gets three guesses, not its whole budget...
      const fresh = yield* Effect.forEach([1, 2, 3, 4], (i) => login("203.0.113.3", `guess-fresh-${i}`))
      expect(fresh.map((r) => r.status)).toEqual([401, 401, 401, 429])
      // ...and the owner, from an address within its own limits, still logs in.
      expect((yield* login("198.51.100.10", password)).status).toBe(200)
      expect((yield* login("198.51.100.17", password)).status).toBe(200)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("an address over its auth limit adds no per-email key to Redis", () =>
    Effect.gen(function*() {
      const { env, url } = yield* system("rl-flood", { AUTH_RATE_LIMIT_MAX: "2", TRUSTED_PROXY_HOPS: "1" })
      const emails = Array.from({ length: 8 }, (_, i) => `flood-${i}@example.com`)
      const replies = yield* Effect.forEach(emails, (email) =>
        promise(() =>
          request(url, "/api/users/login", { body: { email, password: "wrong-password" }, headers: { "x-forwarded-for": "192.0.2.77" } })))
      expect(replies.map((r) => r.status)).toEqual([401, 401, 429, 429, 429, 429, 429, 429])
      const redis = yield* Effect.acquireRelease(
        Effect.sync(() => new Redis(servers().redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0 })),
        (client) => Effect.sync(() => client.disconnect())
      )
      const keys = yield* promise(() => redis.keys(`${env.REDIS_PREFIX}rl:*`))
      const perEmail = keys.filter((key) => key.includes("flood-")).map((key) => key.slice(env.REDIS_PREFIX.length)).sort()
      expect(perEmail).toEqual([
        "rl:auth-email-ip:192.0.2.77:flood-0@example.com",
        "rl:auth-email-ip:192.0.2.77:flood-1@example.com",
        "rl:auth-email:flood-0@example.com",
        "rl:auth-email:flood-1@example.com"
      ])
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("with Redis stopped requests are served (fail-open, promptly); restarted, limiting resumes", () =>
    Effect.gen(function*() {
      const redis = yield* Effect.acquireRelease(promise(() => startRedis()), (server) => promise(server.stop))
      const { url } = yield* system("rl-down", { REDIS_URL: redis.url, RATE_LIMIT_MAX: "3", RATE_LIMIT_WINDOW: "1 minutes" })
      const hit = () => promise(() => request(url, "/openapi.json"))
      expect((yield* Effect.forEach([1, 2, 3, 4], hit)).map((r) => r.status)).toEqual([200, 200, 200, 429])

      yield* promise(redis.stop)
      const started = Date.now()
      const whileDown = yield* Effect.forEach([1, 2, 3, 4, 5], hit)
      expect(whileDown.map((r) => r.status)).toEqual([200, 200, 200, 200, 200])
      expect(whileDown[0]?.headers.get("ratelimit")).toBeNull()
      expect(Date.now() - started).toBeLessThan(3_000)

      yield* promise(redis.restart)
      // The restarted server lost the old window: a fresh budget of three, then refusals again.
      const after = yield* promise(async () => {
        const seen: Array<number> = []
        const deadline = Date.now() + 15_000
        while (Date.now() < deadline && !seen.includes(429)) {
          const reply = await request(url, "/openapi.json")
          if (reply.headers.get("ratelimit") !== null) seen.push(reply.status)
          await sleep(50)
        }
        return seen
      })
      expect(after).toEqual([200, 200, 200, 429])
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("configured fail-closed, a Redis outage answers 503 instead", () =>
    Effect.gen(function*() {
      const redis = yield* Effect.acquireRelease(promise(() => startRedis()), (server) => promise(server.stop))
      const { url } = yield* system("rl-closed", { REDIS_URL: redis.url, RATE_LIMIT_FAIL_MODE: "closed" })
      expect((yield* promise(() => request(url, "/openapi.json"))).status).toBe(200)
      yield* promise(redis.stop)
      const reply = yield* promise(() => request(url, "/openapi.json"))
      expect(reply.status).toBe(503)
      expect(reply.body).toMatchObject({ error: { code: "dependency_unavailable" } })
      expect((yield* promise(() => request(url, "/health"))).status).toBe(200)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("/health and /ready are never limited", () =>
    Effect.gen(function*() {
      const { url } = yield* system("rl-health", { RATE_LIMIT_MAX: "1" })
      const replies = yield* Effect.forEach(Array.from({ length: 10 }), () => promise(() => request(url, "/health")))
      expect(replies.every((r) => r.status === 200 && r.headers.get("ratelimit") === null)).toBe(true)
      expect((yield* promise(() => request(url, "/ready"))).status).toBe(200)
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
