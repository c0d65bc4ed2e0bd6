import { describe, expect, layer } from "@effect/vitest"
import { eventually, field, request, signUp, teammateOf, text } from "@herald/testing/Http"
import { startNginx } from "@herald/testing/Nginx"
import { Context, Duration, Effect, Layer } from "effect"
import { type Cluster, cluster } from "@herald/testing/Cluster"
import { connect, ofType } from "@herald/testing/Stream"
import * as System from "@herald/testing/System"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

/** The default budget of the gateways in this file: small, so the rate-limit test can exhaust it. */
const budget = 20

/** Herald as deployed: the shipped nginx configuration in front of two gateway processes and the services. */
class Deployment extends Context.Tag("test/Deployment")<Deployment, {
  readonly url: string
  readonly cluster: Cluster
  readonly accessLog: () => ReadonlyArray<Record<string, unknown>>
}>() {}

const deployment = Layer.scoped(
  Deployment,
  Effect.gen(function*() {
    const running = yield* cluster(System.testEnv("nginx"), {
      gateways: 2,
      notifications: 1,
      gatewayEnv: { TRUSTED_PROXY_HOPS: "1", RATE_LIMIT_MAX: String(budget), AUTH_RATE_LIMIT_MAX: "1000", RATE_LIMIT_REDIS_TIMEOUT: "5 seconds" }
    })
    const nginx = yield* Effect.acquireRelease(
      promise(() => startNginx(running.gateways.map((gateway) => `127.0.0.1:${gateway.port}`))),
      (server) => promise(server.stop)
    )
    return { url: nginx.url, cluster: running, accessLog: nginx.accessLog }
  })
)

/** Each test speaks from its own loopback address, so that each is a client with a budget of its own. */
const client = (n: number) => `127.0.0.${n}`

describe("behind nginx (infra/nginx/herald.conf, the real binary)", () => {
  layer(deployment, { timeout: Duration.seconds(120), excludeTestServices: true })("two gateway copies", (it) => {
    it.effect("the API works end to end through it, with request ids and errors in the API's shape", () =>
      Effect.gen(function*() {
        const { url } = yield* Deployment
        const from = client(11)
        const user = yield* promise(() => signUp(url, "nginx"))
        const created = yield* promise(() =>
          request(url, "/api/tasks", { token: user.token, body: { title: "through nginx" }, localAddress: from, headers: { "x-request-id": "trace-123" } }))
        expect(created.status).toBe(201)
        expect(created.headers.get("x-request-id")).toBe("trace-123")
        const read = yield* promise(() => request(url, `/api/tasks/${text(created.body, "id")}`, { token: user.token, localAddress: from }))
        expect(read.status).toBe(200)
        expect(field(read.body, "title")).toBe("through nginx")
        expect(read.headers.get("server")).toBe("nginx")
        expect(read.headers.get("x-request-id")).toMatch(/^[0-9a-f]{32}$|^[\w-]+$/)

        const missing = yield* promise(() => request(url, "/api/nowhere", { localAddress: from }))
        expect(missing.status).toBe(404)
        expect(field(missing.body, "error", "code")).toBe("not_found")

        // Refused by nginx itself, before any gateway sees it, in the same shape.
        const huge = yield* promise(() =>
          request(url, "/api/tasks", { token: user.token, raw: JSON.stringify({ title: "x".repeat(1_100_000) }), headers: { "content-type": "application/json" }, localAddress: from }))
        expect(huge.status).toBe(413)
        expect(huge.headers.get("content-type")).toContain("application/json")
        expect(field(huge.body, "error", "code")).toBe("payload_too_large")
        const justUnder = yield* promise(() =>
          request(url, "/api/tasks", { token: user.token, body: { title: "t", description: "d".repeat(900_000) }, localAddress: from }))
        expect(justUnder.status).toBeLessThan(500)
        expect(justUnder.status).not.toBe(413)
      }))

    it.effect("the rate limit is shared by both copies and counts the real client IP, not what it writes in X-Forwarded-For", () =>
      Effect.gen(function*() {
        const { accessLog, cluster, url } = yield* Deployment
        const from = client(12)
        const attempts = budget * 3
        const replies = yield* Effect.forEach(
          Array.from({ length: attempts }, (_, i) => i),
          (i) => promise(() => request(url, "/api/projects", { localAddress: from, headers: { "x-forwarded-for": `10.0.${i}.1` } })),
          { concurrency: "unbounded" }
        )
        const admitted = replies.filter((r) => r.status !== 429)
        expect(admitted).toHaveLength(budget)
        expect(admitted.every((r) => r.status === 401)).toBe(true)
        expect(admitted.map((r) => Number(r.headers.get("ratelimit-remaining"))).sort((x, y) => x - y))
          .toEqual(Array.from({ length: budget }, (_, i) => i))
        const refused = replies.filter((r) => r.status === 429)
        expect(refused.every((r) => Number(r.headers.get("retry-after")) > 0 && field(r.body, "error", "code") === "rate_limited")).toBe(true)
        // Both copies served this client: the budget was shared, not doubled.
        const upstreams = new Set(accessLog().filter((line) => line.client === from).map((line) => line.upstream))
        expect(upstreams).toEqual(new Set(cluster.gateways.map((gateway) => `127.0.0.1:${gateway.port}`)))
        // Another client is untouched by this one's exhaustion.
        const other = yield* promise(() => request(url, "/api/projects", { localAddress: client(13) }))
        expect(other.status).toBe(401)
        expect(other.headers.get("ratelimit-remaining")).toBe(String(budget - 1))
      }))

    it.effect("other spellings of the login path reach no handler through it either: 404, never 401", () =>
      Effect.gen(function*() {
        const { url } = yield* Deployment
        const spellings = ["/api/users/login/", "/API/users/login", "//api/users/login", "/api/users/login;x", "/api/users/%6cogin"]
        const replies = yield* Effect.forEach(spellings, (path) =>
          Effect.map(
            promise(() => request(url, path, { body: { email: "spelled@example.com", password: "wrong-password" }, localAddress: client(16) })),
            (reply) => ({ path, status: reply.status, code: field(reply.body, "error", "code") })
          ))
        expect(replies).toEqual(spellings.map((path) => ({ path, status: 404, code: "not_found" })))
      }))

    it.effect("metrics are served on every service's internal port, outside the rate limit, and not through nginx", () =>
      Effect.gen(function*() {
        const { cluster, url } = yield* Deployment
        const processes = [...cluster.gateways, cluster.users, cluster.tasks, ...cluster.notifications]
        const scrapes = yield* Effect.forEach(processes, (service) => promise(() => request(service.metricsUrl, "")))
        expect(scrapes.map((r) => r.status)).toEqual(processes.map(() => 200))
        expect(scrapes.every((r) => r.headers.get("content-type")?.startsWith("text/plain; version=0.0.4"))).toBe(true)
        expect(scrapes.every((r) => /^process_resident_memory_bytes \d+$/m.test(r.text))).toBe(true)
        // More scrapes than the gateway's whole budget: none is limited.
        const gateway = cluster.gateways[0]
        if (gateway === undefined) return expect.fail("two gateways were started")
        const many = yield* Effect.forEach(Array.from({ length: budget + 5 }), () => promise(() => request(gateway.metricsUrl, "")))
        expect(many.every((r) => r.status === 200 && r.headers.get("ratelimit") === null)).toBe(true)
        // The public side has no /metrics, directly or through nginx.
        const viaNginx = yield* promise(() => request(url, "/metrics", { localAddress: client(17) }))
        expect(viaNginx.status).toBe(404)
        expect(field(viaNginx.body, "error", "code")).toBe("not_found")
        expect((yield* promise(() => request(gateway.url, "/metrics"))).status).toBe(404)
      }))

    it.scoped("the notification stream works through it (WebSocket upgrade)", () =>
      Effect.gen(function*() {
        const { url } = yield* Deployment
        const user = yield* promise(() => signUp(url, "nginx-stream"))
        const stream = yield* Effect.orDie(connect(url, { token: user.token }))
        yield* promise(() => eventually(async () => stream.messages, (m) => ofType(m, "ready").length === 1))
        // Nobody is told of their own act: a teammate assigns the user a task.
        const mate = yield* promise(() => teammateOf(url, user))
        const created = yield* promise(() => mate.assign("pushed through nginx"))
        expect(created.status).toBe(201)
        const heard = yield* promise(() => eventually(async () => ofType(stream.messages, "notification"), (m) => m.length === 1, 10_000))
        expect(text(field(heard[0]?.body, "notification"), "body")).toContain("pushed through nginx")
      }))

    // Last in this file: it takes a gateway away from the shared deployment.
    it.effect("a gateway copy that dies loses no request nginx can retry", () =>
      Effect.gen(function*() {
        const { cluster, url } = yield* Deployment
        const user = yield* promise(() => signUp(url, "nginx-failover"))
        const created = yield* promise(() => request(url, "/api/tasks", { token: user.token, body: { title: "always there" }, localAddress: client(15) }))
        const path = `/api/tasks/${text(created.body, "id")}`
        const [doomed] = cluster.gateways
        if (doomed === undefined) return expect.fail("two gateways were started")
        let sent = 0
        const statuses: Array<number> = []
        const deadline = Date.now() + 4_000
        const reader = (lane: number) =>
          promise(async () => {
            while (Date.now() < deadline) {
              // Spread over many client addresses so the small budget of this file is never the reason for a refusal.
              const reply = await request(url, path, { token: user.token, localAddress: `127.0.${20 + lane}.${(sent++ % 250) + 1}` })
              statuses.push(reply.status)
            }
          })
        yield* Effect.all([
          Effect.forEach(Array.from({ length: 8 }, (_, lane) => lane), reader, { concurrency: "unbounded" }),
          Effect.sleep("1 second").pipe(Effect.zipRight(promise(doomed.kill)))
        ], { concurrency: "unbounded" })
        const failures = statuses.filter((status) => status !== 200)
        console.log(`${statuses.length} GETs while one of two gateways was killed: ${failures.length} not 200`)
        expect(statuses.length).toBeGreaterThan(100)
        expect(failures).toEqual([])
      }))
  })
})
