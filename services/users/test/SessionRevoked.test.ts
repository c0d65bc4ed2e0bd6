import { describe, expect, layer } from "@effect/vitest"
import { eventually, field, request, signUp, sleep } from "@herald/testing/Http"
import { connect, ofType } from "@herald/testing/Stream"
import * as System from "@herald/testing/System"
import { Duration, Effect } from "effect"
import { login, noticesOfFamily, reuse, revokedNotices, spentToken } from "./support/Sessions.ts"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

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

            // From another address and browser than the owner's: the notice says who presented the token.
            const first = yield* promise(() => reuse(url, family.spent, { localAddress: "127.0.0.9", headers: { "user-agent": "Stolen/1.0" } }))
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
              data: { actor: null, projectId: null, taskId: null, familyId: family.familyId, client: { userAgent: "Stolen/1.0" } }
            })
            expect(field(items[0], "data", "client", "ip")).toMatch(/^(::ffff:)?127\.0\.0\.9$/)
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
})
