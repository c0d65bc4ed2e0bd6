import { describe, expect, it, layer } from "@effect/vitest"
import { freePort } from "@herald/testing/Ports"
import { startRedis } from "@herald/testing/RedisServer"
import { startService } from "@herald/testing/Services"
import { eventually, field, request, signUp, text } from "@herald/testing/Http"
import { Context, Duration, Effect, Layer } from "effect"
import { Redis } from "ioredis"
import { cluster } from "@herald/testing/Cluster"
import * as System from "@herald/testing/System"

const call = (url: string, path: string, options: Parameters<typeof request>[2] = {}) => Effect.promise(() => request(url, path, options))

describe("users and auth, through the gateway", () => {
  layer(System.layer("auth"), { timeout: Duration.seconds(60), excludeTestServices: true })("on the real servers", (it) => {
    it.effect("register → login → profile → refresh → reuse of the old refresh token revokes the family → logout", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const registered = yield* call(url, "/api/users/register", {
          body: { email: "  Flow.User@Example.COM ", password: "password-123", name: " Flow User " }
        })
        expect(registered.status).toBe(201)
        expect(field(registered.body, "user")).toMatchObject({ email: "flow.user@example.com", name: "Flow User" })
        expect(field(registered.body, "user", "passwordHash")).toBeUndefined()

        const login = yield* call(url, "/api/users/login", { body: { email: "FLOW.user@example.com", password: "password-123" } })
        expect(login.status).toBe(200)
        expect(login.body).toMatchObject({ tokenType: "Bearer", expiresIn: 900 })
        const access = text(login.body, "accessToken")
        const refresh1 = text(login.body, "refreshToken")

        const profile = yield* call(url, "/api/users/profile", { token: access })
        expect(profile.status).toBe(200)
        expect(Object.keys(profile.body as object).sort()).toEqual(["createdAt", "email", "id", "name", "updatedAt"])

        const refreshed = yield* call(url, "/api/users/refresh", { body: { refreshToken: refresh1 } })
        expect(refreshed.status).toBe(200)
        const refresh2 = text(refreshed.body, "refreshToken")
        expect(refresh2).not.toBe(refresh1)
        const access2 = text(refreshed.body, "accessToken")
        expect((yield* call(url, "/api/users/profile", { token: access2 })).status).toBe(200)

        const reused = yield* call(url, "/api/users/refresh", { body: { refreshToken: refresh1 } })
        expect(reused.status).toBe(401)
        expect(field(reused.body, "error", "code")).toBe("unauthorized")
        // The whole family is gone: the newer refresh token and the access tokens of this login.
        expect((yield* call(url, "/api/users/refresh", { body: { refreshToken: refresh2 } })).status).toBe(401)
        expect((yield* call(url, "/api/users/profile", { token: access2 })).status).toBe(401)

        const second = yield* call(url, "/api/users/login", { body: { email: "flow.user@example.com", password: "password-123" } })
        const access3 = text(second.body, "accessToken")
        const logout = yield* call(url, "/api/users/logout", { token: access3, body: { refreshToken: text(second.body, "refreshToken") } })
        expect(logout.status).toBe(204)
        expect((yield* call(url, "/api/users/refresh", { body: { refreshToken: text(second.body, "refreshToken") } })).status).toBe(401)
        expect((yield* call(url, "/api/users/profile", { token: access3 })).status).toBe(401)
      }))

    it.effect("missing, tampered, alg-none and garbage tokens get 401 with WWW-Authenticate", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const { token } = yield* Effect.promise(() => signUp(url, "tokens"))
        const [header, payload, signature] = token.split(".")
        const claims = JSON.parse(Buffer.from(payload ?? "", "base64url").toString())
        const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: "usr_01M83N7SEMGWZ7Z3S3GWPHE000" })).toString("base64url")}.${signature}`
        const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "at+jwt" })).toString("base64url")}.${payload}.`
        const missing = yield* call(url, "/api/users/profile")
        expect(missing.status).toBe(401)
        expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer/)
        for (const bad of [tampered, none, "garbage", `${token}x`]) {
          const reply = yield* call(url, "/api/users/profile", { token: bad })
          expect(reply.status).toBe(401)
          expect(reply.headers.get("www-authenticate")).toContain("invalid_token")
          expect(field(reply.body, "error", "code")).toBe("unauthorized")
        }
      }))

    it.effect("NoSQL operators and wrong types are 400, never a login", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const user = yield* Effect.promise(() => signUp(url, "nosql"))
        const payloads = [
          { email: { $gt: "" }, password: user.password },
          { email: user.email, password: { $ne: "x" } },
          { email: { $regex: ".*" }, password: { $exists: true } },
          { email: [user.email], password: user.password }
        ]
        for (const body of payloads) {
          const reply = yield* call(url, "/api/users/login", { body })
          expect(reply.status).toBe(400)
          expect(field(reply.body, "error", "code")).toBe("validation_failed")
          expect(field(reply.body, "accessToken")).toBeUndefined()
        }
        const register = yield* call(url, "/api/users/register", { body: { email: { $gt: "" }, password: "password-123", name: "x" } })
        expect(register.status).toBe(400)
      }))

    it.effect("passwords are 8 to 72 bytes: longer ones are refused at registration and never log in, not truncated", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const register = (password: string) =>
          call(url, "/api/users/register", { body: { email: `pw-${Math.random()}@example.com`, password, name: "pw" } })
        expect((yield* register("1234567")).status).toBe(400)
        expect((yield* register("é".repeat(37))).status).toBe(400) // 74 bytes in 37 characters
        const tooLong = yield* register("a".repeat(73))
        expect(tooLong.status).toBe(400)
        expect(text(tooLong.body, "error", "message")).toContain("72 bytes")
        const email = `pw-login-${Math.random()}@example.com`
        const stored = "a".repeat(72)
        expect((yield* call(url, "/api/users/register", { body: { email, password: stored, name: "pw" } })).status).toBe(201)
        // bcrypt reads 72 bytes: without the rule, every password that starts with the stored one would log in.
        const login = (password: string) => call(url, "/api/users/login", { body: { email, password } })
        const longer = yield* login(`${stored}XYZ`)
        expect(longer.status).toBe(401)
        expect(field(longer.body, "error", "code")).toBe("unauthorized")
        expect((yield* login(`${stored}é`)).status).toBe(401)
        expect((yield* login(stored)).status).toBe(200)
      }))

    it.effect("of concurrent registrations of one email exactly one succeeds, the rest are 409", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const email = `race-${Date.now()}@example.com`
        const replies = yield* Effect.forEach(Array.from({ length: 12 }), (_, i) =>
          call(url, "/api/users/register", { body: { email: i % 2 === 0 ? email : email.toUpperCase(), password: "password-123", name: `r${i}` } }), {
          concurrency: "unbounded"
        })
        expect(replies.filter((r) => r.status === 201)).toHaveLength(1)
        expect(replies.filter((r) => r.status === 409)).toHaveLength(11)
        expect(replies.every((r) => r.status === 201 || field(r.body, "error", "code") === "conflict")).toBe(true)
      }))

    it.effect("wrong email and wrong password get the same 401", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const user = yield* Effect.promise(() => signUp(url, "same"))
        const wrongPassword = yield* call(url, "/api/users/login", { body: { email: user.email, password: "not-the-password" } })
        const wrongEmail = yield* call(url, "/api/users/login", { body: { email: `nobody-${user.email}`, password: user.password } })
        expect(wrongPassword.status).toBe(401)
        expect(wrongEmail.status).toBe(401)
        expect(wrongEmail.body).toEqual(wrongPassword.body)
      }))

    it.effect("PATCH profile is served right after, by the cache too", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const user = yield* Effect.promise(() => signUp(url, "cache"))
        expect(text((yield* call(url, "/api/users/profile", { token: user.token })).body, "name")).toBe("cache")
        for (const name of ["second", "third", "fourth"]) {
          const patched = yield* call(url, "/api/users/profile", { method: "PATCH", token: user.token, body: { name } })
          expect(text(patched.body, "name")).toBe(name)
          expect(text((yield* call(url, "/api/users/profile", { token: user.token })).body, "name")).toBe(name)
        }
        expect((yield* call(url, "/api/users/profile", { method: "PATCH", token: user.token, body: { name: "" } })).status).toBe(400)
      }))
  })

  it.live("login with an unknown email costs as much as a wrong password (no user enumeration by timing)", () =>
    Effect.gen(function*() {
      const { url } = yield* System.TestSystem
      const user = yield* Effect.promise(() => signUp(url, "timing"))
      const time = (email: string) =>
        Effect.promise(async () => {
          const started = performance.now()
          await request(url, "/api/users/login", { body: { email, password: "wrong-password" } })
          return performance.now() - started
        })
      const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0
      const known = median(yield* Effect.forEach(Array.from({ length: 7 }), () => time(user.email)))
      const unknown = median(yield* Effect.forEach(Array.from({ length: 7 }), (_, i) => time(`nobody-${i}@example.com`)))
      // bcrypt at cost 10 takes tens of milliseconds: without the decoy comparison an unknown email would be ~20× faster.
      expect(unknown).toBeGreaterThan(known * 0.6)
      expect(unknown).toBeLessThan(known * 1.6)
    }).pipe(Effect.provide(System.layer("timing", { env: { BCRYPT_COST: "10" } }))), { timeout: 60_000 })

  it.live("profile cache: filled by a read; with Redis frozen a PATCH still wins; stopped Redis still serves profiles", () =>
    Effect.gen(function*() {
      const redis = yield* Effect.acquireRelease(Effect.promise(() => startRedis()), (server) =>
        Effect.promise(async () => {
          server.resume()
          await server.stop()
        }))
      const context = yield* Layer.build(System.layer("profile", { env: { REDIS_URL: redis.url } }))
      const { env, url } = Context.get(context, System.TestSystem)
      const inspect = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false })
      yield* Effect.addFinalizer(() => Effect.sync(() => inspect.disconnect()))
      yield* Effect.promise(() => inspect.connect())
      const user = yield* Effect.promise(() => signUp(url, "profile"))
      const cachedName = () => Effect.promise(() => inspect.hget(`${env.REDIS_PREFIX}cache:profile:${user.userId}`, "d")).pipe(
        Effect.map((json) => (json === null ? null : text(JSON.parse(json), "name")))
      )
      const profileName = Effect.map(call(url, "/api/users/profile", { token: user.token }), (reply) => {
        expect(reply.status).toBe(200)
        return text(reply.body, "name")
      })

      expect(yield* profileName).toBe("profile")
      expect(yield* cachedName()).toBe("profile")
      const renamed = yield* call(url, "/api/users/profile", { method: "PATCH", token: user.token, body: { name: "renamed" } })
      expect(text(renamed.body, "name")).toBe("renamed")
      expect(yield* cachedName()).toBe("renamed")

      // Frozen: the server keeps the "renamed" entry but answers nothing.
      redis.pause()
      const offline = yield* call(url, "/api/users/profile", { method: "PATCH", token: user.token, body: { name: "offline" } })
      expect(offline.status).toBe(200)
      expect(yield* profileName).toBe("offline")
      redis.resume()
      // Back, with the old entry still inside: it is never served.
      for (let i = 0; i < 10; i++) expect(yield* profileName).toBe("offline")
      yield* Effect.promise(() => eventually(() => Effect.runPromise(cachedName()), (name) => name !== "renamed"))

      yield* Effect.promise(redis.stop)
      expect(yield* profileName).toBe("offline")
      const whileDown = yield* call(url, "/api/users/profile", { method: "PATCH", token: user.token, body: { name: "down" } })
      expect(whileDown.status).toBe(200)
      expect(yield* profileName).toBe("down")
    }).pipe(Effect.scoped), { timeout: 90_000 })
})

describe("signing keys, with the services run apart", () => {
  it.live("after the users service restarts with a fresh generated key (JWT_KEY_ID as in .env.example), a running gateway accepts its tokens", () =>
    Effect.gen(function*() {
      const running = yield* cluster(System.testEnv("rekey", { JWT_KEY_ID: "herald-1" }), { gateways: 1, notifications: 1 })
      const url = running.gateways[0]?.url ?? ""
      const before = yield* Effect.promise(() => signUp(url, "rekey"))
      expect((yield* call(url, "/api/users/profile", { token: before.token })).status).toBe(200)

      yield* Effect.promise(running.users.stop)
      yield* Effect.acquireRelease(
        Effect.promise(() => startService("services/users/src/main.ts", running.envOf(running.users), { port: running.users.port })),
        (process) => Effect.promise(process.stop)
      )
      const login = yield* Effect.promise(() =>
        eventually(() => request(url, "/api/users/login", { body: { email: before.email, password: before.password } }), (r) => r.status === 200))
      const token = text(login.body, "accessToken")
      // Within the verifier's refetch interval (5 s), never until the gateway restarts.
      const profile = yield* Effect.promise(() =>
        eventually(() => request(url, "/api/users/profile", { token }), (r) => r.status !== 401, 10_000).catch(() => undefined))
      expect(profile?.status).toBe(200)
    }).pipe(Effect.scoped), { timeout: 120_000 })

  it.live("a gateway that has not yet reached the users service answers a bearer token with 503, not 401", () =>
    Effect.gen(function*() {
      const nowhere = yield* Effect.promise(freePort)
      const gateway = yield* Effect.acquireRelease(
        Effect.promise(() =>
          startService("services/gateway/src/main.ts", {
            ...System.testEnv("no-users"),
            RPC_SECRET: "a shared secret the services would hold",
            USERS_URL: `http://127.0.0.1:${nowhere}/rpc/users`
          })),
        (process) => Effect.promise(process.stop)
      )
      const token = `${Buffer.from(JSON.stringify({ alg: "EdDSA", typ: "at+jwt", kid: "k" })).toString("base64url")}.e30.c2ln`
      const reply = yield* call(gateway.url, "/api/users/profile", { token })
      expect(reply.status).toBe(503)
      expect(field(reply.body, "error", "code")).toBe("dependency_unavailable")
      expect(reply.headers.get("www-authenticate")).toBe(null)
      // Without a token it is still 401: nothing needs the keys to say so.
      expect((yield* call(gateway.url, "/api/users/profile")).status).toBe(401)
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
