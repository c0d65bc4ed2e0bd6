import { describe, expect, it } from "@effect/vitest"
import { newNotificationId } from "@herald/domain/Ids"
import { eventually, field, request, signUp, sleep, tellUser } from "@herald/testing/Http"
import { Context, Effect, Fiber, Layer } from "effect"
import { Redis } from "ioredis"
import { cluster } from "@herald/testing/Cluster"
import { startRedis } from "@herald/testing/RedisServer"
import { connect, ofType, type StreamClient } from "@herald/testing/Stream"
import * as System from "@herald/testing/System"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

/** A system of its own with the given settings, alive for the rest of the test's scope. */
const system = (label: string, env: Record<string, string>) =>
  Effect.map(Layer.build(System.layer(label, { env })), (context) => Context.get(context, System.TestSystem))

/** Resolves with how the stream was closed, or with `open` if it still is after `ms`. */
const closedWithin = (closed: Promise<{ readonly code: number; readonly reason: string }>, ms: number) =>
  promise(() => Promise.race([closed.then(({ code, reason }) => ({ code, reason })), sleep(ms).then(() => "open" as const)]))

/** A counter's value in a Prometheus exposition (0 when absent). */
const counter = (metrics: string, name: string) =>
  Number(metrics.split("\n").find((line) => line.startsWith(`${name} `))?.slice(name.length + 1) ?? 0)

describe("the notification stream's guards", () => {
  it.live("a logged-out session's stream is closed (4401) on the next push, and does not receive it", () =>
    Effect.gen(function*() {
      const { url } = yield* system("stream-revoke", { STREAM_HEARTBEAT: "60 seconds" })
      const first = yield* promise(() => signUp(url, "revoke"))
      const stream = yield* Effect.orDie(connect(url, { token: first.token }))
      yield* promise(() => eventually(async () => stream.messages, (m) => ofType(m, "ready").length === 1))
      const second = yield* promise(() => request(url, "/api/users/login", { body: { email: first.email, password: first.password } }))
      const logout = yield* promise(() => request(url, "/api/users/logout", { token: first.token, body: { refreshToken: first.refreshToken } }))
      expect(logout.status).toBe(204)
      expect(second.status).toBe(200)
      yield* promise(() => tellUser(url, first))
      expect(yield* closedWithin(stream.closed, 5_000)).toEqual({ code: 4401, reason: "session revoked" })
      expect(ofType(stream.messages, "notification")).toEqual([])
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("without any push, a logged-out session's stream is closed within one heartbeat interval", () =>
    Effect.gen(function*() {
      const { url } = yield* system("stream-revoke-idle", { STREAM_HEARTBEAT: "1 seconds" })
      const user = yield* promise(() => signUp(url, "revoke-idle"))
      const stream = yield* Effect.orDie(connect(url, { token: user.token }))
      yield* promise(() => eventually(async () => stream.messages, (m) => ofType(m, "ready").length === 1))
      const loggedOut = Date.now()
      expect((yield* promise(() => request(url, "/api/users/logout", { token: user.token, body: { refreshToken: user.refreshToken } }))).status).toBe(204)
      expect(yield* closedWithin(stream.closed, 3_000)).toEqual({ code: 4401, reason: "session revoked" })
      expect((yield* promise(() => stream.closed)).at - loggedOut).toBeLessThan(2_500)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("streams per user are capped: one more is closed with 4429 and a reason; the open ones keep working, and a freed place is taken again", () =>
    Effect.gen(function*() {
      const { url } = yield* system("stream-cap", { STREAM_MAX_PER_USER: "2" })
      const user = yield* promise(() => signUp(url, "cap"))
      const open = () => Effect.orDie(connect(url, { token: user.token }))
      const [a, b] = yield* Effect.all([open(), open()])
      yield* promise(() => eventually(async () => [...a.messages, ...b.messages], (m) => ofType(m, "ready").length === 2))
      const extra = yield* open()
      expect(yield* closedWithin(extra.closed, 5_000)).toEqual({ code: 4429, reason: "too many open streams for this user (at most 2)" })
      expect(ofType(extra.messages, "ready")).toEqual([])

      yield* promise(() => tellUser(url, user))
      yield* promise(() => eventually(async () => [...a.messages, ...b.messages], (m) => ofType(m, "notification").length === 2, 5_000))
      a.socket.close()
      yield* promise(() => a.closed)
      // The server lets go of a stream once it sees it closed.
      yield* Effect.sleep("500 millis")
      const replacement = yield* open()
      yield* promise(() => eventually(async () => replacement.messages, (m) => ofType(m, "ready").length === 1, 5_000))
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("a push to a user with several streams looks the unread count up once, not once per stream", () =>
    Effect.gen(function*() {
      const { metricsUrl, url } = yield* system("stream-once", {})
      const user = yield* promise(() => signUp(url, "once"))
      const streams = yield* Effect.forEach(Array.from({ length: 4 }), () => Effect.orDie(connect(url, { token: user.token })))
      yield* promise(() => eventually(async () => streams.flatMap((s) => s.messages), (m) => ofType(m, "ready").length === 4))
      const before = counter((yield* promise(() => request(metricsUrl, ""))).text, "herald_stream_unread_lookups_total")
      yield* promise(() => tellUser(url, user))
      const heard = yield* promise(() =>
        eventually(async () => streams.flatMap((s) => ofType(s.messages, "notification")), (m) => m.length === 4, 10_000))
      expect(heard.map((m) => field(m.body, "unreadCount"))).toEqual([1, 1, 1, 1])
      const after = counter((yield* promise(() => request(metricsUrl, ""))).text, "herald_stream_unread_lookups_total")
      expect(after - before).toBe(1)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("a client that stops reading is closed (4408) once its buffer passes the bound, instead of being written to without end", () =>
    Effect.gen(function*() {
      const { env, url } = yield* system("stream-slow", { STREAM_MAX_BUFFERED_BYTES: String(256 * 1024) })
      const user = yield* promise(() => signUp(url, "slow"))
      const stream = yield* Effect.orDie(connect(url, { token: user.token }))
      yield* promise(() => eventually(async () => stream.messages, (m) => ofType(m, "ready").length === 1))
      stream.socket.pause()
      // 400 pushes of 64 KiB (25 MiB): far more than the kernel's socket buffers hold on loopback.
      const publisher = yield* Effect.acquireRelease(Effect.sync(() => new Redis(env.REDIS_URL ?? "")), (redis) => Effect.sync(() => redis.disconnect()))
      const pushes = 400
      const body = "x".repeat(64 * 1024)
      for (let i = 0; i < pushes; i++) {
        const notification = { id: yield* newNotificationId, type: "task.created", title: "big", body, data: {}, actor: null, read: false, readAt: null, seen: false, archived: false, createdAt: new Date().toISOString() }
        yield* promise(() => publisher.publish(`${env.REDIS_PREFIX}rt:user:${user.userId}`, JSON.stringify({ type: "notification", notification })))
      }
      yield* Effect.sleep("3 seconds")
      stream.socket.resume()
      expect(yield* closedWithin(stream.closed, 20_000)).toEqual({ code: 4408, reason: "client too slow: reconnect with ?since=" })
      const delivered = ofType(stream.messages, "notification").length
      console.log(`a paused client received ${delivered} of ${pushes} pushes of 64 KiB before it was closed`)
      expect(delivered).toBeLessThan(pushes)
    }).pipe(Effect.scoped), { timeout: 90_000 })

  it.live("streams opened all at once on a cold gateway, while its Redis subscriber connection is still in its handshake, hear every push sent once they said ready", () =>
    Effect.gen(function*() {
      const redis = yield* Effect.acquireRelease(promise(() => startRedis()), (server) => promise(server.stop))
      // A gateway process of its own: in one process, the notifications service's own subscription warms the connection.
      const env = System.testEnv("stream-cold", { REDIS_URL: redis.url })
      const { gateways: [gateway] } = yield* cluster(env, { gateways: 1, notifications: 1 })
      if (gateway === undefined) return expect.fail("one gateway was asked for")
      const { url } = gateway
      const users = yield* Effect.forEach(Array.from({ length: 24 }), (_, i) => promise(() => signUp(url, `cold${i}`)), { concurrency: 8 })
      const publisher = yield* Effect.acquireRelease(Effect.sync(() => new Redis(redis.url)), (client) => Effect.sync(() => client.disconnect()))
      // Frozen while the streams open: the subscriber connection the first of them makes stays in its handshake.
      redis.pause()
      const opening = yield* Effect.fork(Effect.forEach(users, (user) => Effect.orDie(connect(url, { token: user.token })), { concurrency: "unbounded" }))
      yield* Effect.sleep("2 seconds")
      redis.resume()
      const streams = yield* Fiber.join(opening)
      const pushAfterReady = (stream: StreamClient, userId: string) =>
        Effect.gen(function*() {
          yield* promise(() => eventually(async () => stream.messages, (m) => ofType(m, "ready").length === 1, 10_000))
          const notification = { id: yield* newNotificationId, type: "task.created", title: "cold", body: "cold start", data: {}, actor: null, read: false, readAt: null, seen: false, archived: false, createdAt: new Date().toISOString() }
          yield* promise(() => publisher.publish(`${env.REDIS_PREFIX}rt:user:${userId}`, JSON.stringify({ type: "notification", notification })))
        })
      yield* Effect.forEach(streams, (stream, i) => pushAfterReady(stream, users[i]?.userId ?? ""), { concurrency: "unbounded" })
      const heard = () => streams.map((stream) => ofType(stream.messages, "notification").length)
      yield* promise(() => eventually(async () => heard(), (counts) => counts.every((n) => n === 1), 10_000).catch(() => undefined))
      expect(heard().filter((n) => n !== 1)).toEqual([])
    }).pipe(Effect.scoped), { timeout: 90_000 })
})
