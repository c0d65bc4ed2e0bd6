import { describe, expect, it, layer } from "@effect/vitest"
import { cluster } from "@herald/testing/Cluster"
import { eventually, field, request, signUp, sleep, text } from "@herald/testing/Http"
import { freePort } from "@herald/testing/Ports"
import { startService } from "@herald/testing/Services"
import { connect, ofType } from "@herald/testing/Stream"
import * as System from "@herald/testing/System"
import { Duration, Effect } from "effect"
import { generateKeyPairSync } from "node:crypto"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

type User = Awaited<ReturnType<typeof signUp>>

/** The family (login) an access token belongs to: its `fid` claim. */
const familyOf = (accessToken: string) => text(JSON.parse(Buffer.from(accessToken.split(".")[1] ?? "", "base64url").toString()), "fid")

/** A fresh login of `user`: a family of its own. */
const login = async (base: string, user: User) => {
  const reply = await request(base, "/api/users/login", { body: { email: user.email, password: user.password } })
  if (reply.status !== 200) throw new Error(`login failed: ${reply.status} ${reply.text}`)
  return { access: text(reply.body, "accessToken"), refresh: text(reply.body, "refreshToken"), familyId: familyOf(text(reply.body, "accessToken")) }
}

/** Refreshes once (the first token is then spent), and returns the spent token with the family. */
const spentToken = async (base: string, user: User) => {
  const session = await login(base, user)
  const rotated = await request(base, "/api/users/refresh", { body: { refreshToken: session.refresh } })
  if (rotated.status !== 200) throw new Error(`refresh failed: ${rotated.status} ${rotated.text}`)
  return { spent: session.refresh, current: text(rotated.body, "refreshToken"), familyId: session.familyId }
}

const reuse = (base: string, refreshToken: string) => request(base, "/api/users/refresh", { body: { refreshToken } })

/** The `security.session_revoked` notifications in the inbox of the holder of `token`. */
const revokedNotices = async (base: string, token: string) => {
  const reply = await request(base, "/api/notifications?type=security.session_revoked&limit=100", { token })
  if (reply.status !== 200) throw new Error(`inbox failed: ${reply.status} ${reply.text}`)
  return field(reply.body, "items") as Array<unknown>
}

const noticesOfFamily = (items: ReadonlyArray<unknown>, familyId: string) => items.filter((item) => field(item, "data", "familyId") === familyId)

describe("security.session_revoked: a reused refresh token tells the account's owner, once", () => {
  for (const embedded of [false, true]) {
    layer(System.layer(embedded ? "revoked-memory" : "revoked", { embedded }), { timeout: Duration.seconds(60), excludeTestServices: true })(
      embedded ? "on the in-memory twins (npm start without configuration)" : "on the real servers",
      (it) => {
        it.effect("a reused refresh token is 401 and its owner gets exactly one critical notice, pushed live, even after more reuses", () =>
          Effect.gen(function*() {
            const { url } = yield* System.TestSystem
            const user = yield* promise(() => signUp(url, "owner"))
            // The stream and the inbox are read with another login, which the reuse does not touch.
            const stream = yield* connect(url, { token: user.token })
            const family = yield* promise(() => spentToken(url, user))

            const first = yield* promise(() => reuse(url, family.spent))
            expect(first.status).toBe(401)
            expect(field(first.body, "error", "code")).toBe("unauthorized")
            // Again with the spent token, and with the newer token of the revoked family: no second notice.
            expect((yield* promise(() => reuse(url, family.spent))).status).toBe(401)
            expect((yield* promise(() => reuse(url, family.current))).status).toBe(401)

            const items = yield* promise(() => eventually(() => revokedNotices(url, user.token), (found) => found.length > 0))
            yield* promise(() => sleep(1_500))
            const settled = yield* promise(() => revokedNotices(url, user.token))
            expect(settled).toHaveLength(1)
            expect(items[0]).toMatchObject({
              type: "security.session_revoked",
              title: "Session revoked",
              body: "Someone used an old refresh token of yours; every session of that login was signed out. If it was not you, change your password.",
              actor: null,
              read: false,
              data: { actor: null, projectId: null, taskId: null, familyId: family.familyId }
            })
            expect(JSON.stringify(items[0])).not.toContain(family.spent)

            const pushed = yield* promise(() =>
              eventually(async () => ofType(stream.messages, "notification"), (messages) => messages.length > 0, 5_000))
            expect(pushed.map((message) => field(message.body, "notification", "type"))).toEqual(["security.session_revoked"])
            expect(field(pushed[0]?.body, "notification", "id")).toBe(field(items[0], "id"))
          }).pipe(Effect.scoped))

        it.effect("concurrent reuses of one spent token revoke the family once and make one notice; another family makes another", () =>
          Effect.gen(function*() {
            const { url } = yield* System.TestSystem
            const user = yield* promise(() => signUp(url, "racer"))
            const family = yield* promise(() => spentToken(url, user))
            const replies = yield* Effect.forEach(Array.from({ length: 8 }), () => promise(() => reuse(url, family.spent)), {
              concurrency: "unbounded"
            })
            expect(replies.map((reply) => reply.status)).toEqual(Array.from({ length: 8 }, () => 401))
            const other = yield* promise(() => spentToken(url, user))
            expect((yield* promise(() => reuse(url, other.spent))).status).toBe(401)

            yield* promise(() => eventually(() => revokedNotices(url, user.token), (found) => found.length >= 2))
            yield* promise(() => sleep(1_500))
            const items = yield* promise(() => revokedNotices(url, user.token))
            expect(noticesOfFamily(items, family.familyId)).toHaveLength(1)
            expect(noticesOfFamily(items, other.familyId)).toHaveLength(1)
            expect(items).toHaveLength(2)
          }))

        it.effect("it is critical: muting it in-app is refused, and with every in-app notice off it still arrives; a logout tells nobody", () =>
          Effect.gen(function*() {
            const { url } = yield* System.TestSystem
            const user = yield* promise(() => signUp(url, "muted"))
            const preferences = {
              channels: { in_app: false, email: false, webhook: false },
              types: {},
              digest: { email: "off" },
              quietHours: null
            }
            const refused = yield* promise(() =>
              request(url, "/api/users/preferences", {
                method: "PUT",
                token: user.token,
                body: { ...preferences, types: { "security.session_revoked": { in_app: false } } }
              }))
            expect(refused.status).toBe(400)
            expect(field(refused.body, "error", "code")).toBe("validation_failed")
            const off = yield* promise(() => request(url, "/api/users/preferences", { method: "PUT", token: user.token, body: preferences }))
            expect(off.status).toBe(200)

            const loggedOut = yield* promise(() => login(url, user))
            expect((yield* promise(() => request(url, "/api/users/logout", { token: loggedOut.access, body: { refreshToken: loggedOut.refresh } }))).status)
              .toBe(204)
            const family = yield* promise(() => spentToken(url, user))
            expect((yield* promise(() => reuse(url, family.spent))).status).toBe(401)
            const items = yield* promise(() => eventually(() => revokedNotices(url, user.token), (found) => found.length > 0))
            expect(noticesOfFamily(items, family.familyId)).toHaveLength(1)
            yield* promise(() => sleep(1_000))
            // The logout's revocation made none.
            expect(yield* promise(() => revokedNotices(url, user.token))).toHaveLength(1)
          }))
      }
    )
  }

  it.live("recorded, never published, then the users service is killed: after its restart the relay publishes it, once", () =>
    Effect.gen(function*() {
      const key = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString()
      const env = System.testEnv("revoked-crash", { JWT_PRIVATE_KEY: key })
      // The users service starts with no broker to reach: its revocations can only be recorded.
      const nowhere = `amqp://127.0.0.1:${yield* promise(freePort)}`
      const running = yield* cluster(env, { gateways: 1, notifications: 1, usersEnv: { AMQP_URL: nowhere, AMQP_CONNECT_RETRIES: "0" } })
      const url = running.gateways[0]?.url ?? ""
      const user = yield* promise(() => signUp(url, "crash"))
      const family = yield* promise(() => spentToken(url, user))
      expect((yield* promise(() => reuse(url, family.spent))).status).toBe(401)
      yield* promise(() => sleep(1_000))
      expect(yield* promise(() => revokedNotices(url, user.token))).toHaveLength(0)

      yield* promise(running.users.kill)
      yield* Effect.acquireRelease(
        promise(() => startService("services/users/src/main.ts", { ...running.envOf(running.users), AMQP_URL: env.AMQP_URL ?? "" }, { port: running.users.port })),
        (process) => promise(process.stop)
      )
      const items = yield* promise(() => eventually(() => revokedNotices(url, user.token), (found) => found.length > 0, 20_000))
      expect(noticesOfFamily(items, family.familyId)).toHaveLength(1)
      yield* promise(() => sleep(1_500))
      expect(yield* promise(() => revokedNotices(url, user.token))).toHaveLength(1)
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
