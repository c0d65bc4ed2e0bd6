import { describe, expect, it, layer } from "@effect/vitest"
import { eventually, field, request, signUp, teammateOf, text } from "@herald/testing/Http"
import { Duration, Effect } from "effect"
import { cluster } from "@herald/testing/Cluster"
import { connect, ofType } from "@herald/testing/Stream"
import * as System from "@herald/testing/System"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

describe("notifications REST and real time", () => {
  layer(System.layer("realtime", { env: { STREAM_HEARTBEAT: "1 seconds" } }), {
    timeout: Duration.seconds(60),
    excludeTestServices: true
  })("one system", (it) => {
    it.effect("list (and get-all), latest, unread-count, mark read and read-all, only ever the caller's own", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const user = yield* promise(() => signUp(url, "rest"))
        const other = yield* promise(() => signUp(url, "rest-other"))
        const { assign } = yield* promise(() => teammateOf(url, user))
        for (const title of ["one", "two", "three"]) yield* promise(() => assign(title))
        const listed = yield* promise(() =>
          eventually(() => request(url, "/api/notifications", { token: user.token }), (r) => (field(r.body, "items") as Array<unknown>).length === 3))
        const items = field(listed.body, "items") as Array<unknown>
        expect(items.map((n) => text(n, "body"))).toEqual(["mate assigned you 'three'", "mate assigned you 'two'", "mate assigned you 'one'"])
        expect(Object.keys(items[0] as object).sort()).toEqual(["actor", "archived", "body", "createdAt", "data", "id", "read", "readAt", "seen", "title", "type"])
        expect((yield* promise(() => request(url, "/api/notifications/get-all", { token: user.token }))).body).toEqual(listed.body)
        const latest = yield* promise(() => request(url, "/api/notifications/latest?limit=2", { token: user.token }))
        expect((field(latest.body, "items") as Array<unknown>).map((n) => text(n, "id"))).toEqual(items.slice(0, 2).map((n) => text(n, "id")))
        expect((yield* promise(() => request(url, "/api/notifications/unread-count", { token: user.token }))).body).toEqual({ unread: 3, unseen: 3, count: 3 })

        const first = text(items[0], "id")
        expect((yield* promise(() => request(url, `/api/notifications/${first}/read`, { method: "POST", token: other.token }))).status).toBe(404)
        expect((yield* promise(() => request(url, `/api/notifications/${first}/read`, { method: "POST", token: user.token }))).status).toBe(204)
        expect((yield* promise(() => request(url, "/api/notifications/unread-count", { token: user.token }))).body).toEqual({ unread: 2, unseen: 2, count: 2 })
        const unread = yield* promise(() => request(url, "/api/notifications?unread=true", { token: user.token }))
        expect((field(unread.body, "items") as Array<unknown>).map((n) => text(n, "id"))).not.toContain(first)
        const paged = yield* promise(() => request(url, "/api/notifications?limit=2", { token: user.token }))
        const next = yield* promise(() => request(url, `/api/notifications?limit=2&cursor=${text(paged.body, "nextCursor")}`, { token: user.token }))
        expect((field(next.body, "items") as Array<unknown>).map((n) => text(n, "body"))).toEqual(["mate assigned you 'one'"])
        expect(field(next.body, "nextCursor")).toBeNull()

        expect((yield* promise(() => request(url, "/api/notifications/read-all", { method: "POST", token: user.token }))).status).toBe(204)
        expect((yield* promise(() => request(url, "/api/notifications/unread-count", { token: user.token }))).body).toEqual({ unread: 0, unseen: 0, count: 0 })
        expect((yield* promise(() => request(url, "/api/notifications", { token: other.token }))).body).toMatchObject({ items: [] })
      }))

    it.effect("inbox states: unread, archived, type and project filters; read/unread/archive/unarchive/delete, 404 for another user's", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const user = yield* promise(() => signUp(url, "inbox"))
        const other = yield* promise(() => signUp(url, "inbox-other"))
        // Two teammates, each in a project of the user's, assign them tasks: "loose" in another project than a and b.
        const elsewhere = yield* promise(() => teammateOf(url, user, "elsewhere"))
        const { assign, projectId } = yield* promise(() => teammateOf(url, user))
        yield* promise(() => elsewhere.assign("loose"))
        for (const title of ["a", "b"]) yield* promise(() => assign(title))
        const all = yield* promise(() =>
          eventually(() => request(url, "/api/notifications", { token: user.token }), (r) => (field(r.body, "items") as Array<unknown>).length === 3))
        const ids = (field(all.body, "items") as Array<unknown>).map((n) => text(n, "id"))
        const [b = "", a = "", loose = ""] = ids
        const listIds = async (query: string) =>
          (field((await request(url, `/api/notifications${query}`, { token: user.token })).body, "items") as Array<unknown>).map((n) => text(n, "id"))
        const counts = async () => (await request(url, "/api/notifications/unread-count", { token: user.token })).body
        const post = (path: string, token = user.token) => promise(() => request(url, path, { method: "POST", token }))

        expect(yield* promise(() => listIds(`?projectId=${projectId}`))).toEqual([b, a])
        expect((field(all.body, "items") as Array<unknown>).map((n) => text(n, "body"))).toEqual(["mate assigned you 'b'", "mate assigned you 'a'", "elsewhere assigned you 'loose'"])
        expect(yield* promise(() => listIds("?type=task.assigned"))).toEqual([b, a, loose])
        expect(yield* promise(() => listIds("?type=task.created"))).toEqual([])
        expect(yield* promise(() => listIds("?type=task.deleted"))).toEqual([])

        for (const path of [`/api/notifications/${a}/read`, `/api/notifications/${a}/unread`, `/api/notifications/${a}/archive`, `/api/notifications/${a}/unarchive`]) {
          expect((yield* post(path, other.token)).status).toBe(404)
        }
        expect((yield* promise(() => request(url, `/api/notifications/${a}`, { method: "DELETE", token: other.token }))).status).toBe(404)

        expect((yield* post(`/api/notifications/${a}/read`)).status).toBe(204)
        const readOne = (yield* promise(() => listIds(""))).length
        expect(readOne).toBe(3)
        const readDoc = (field((yield* promise(() => request(url, "/api/notifications", { token: user.token }))).body, "items") as Array<unknown>)[1]
        expect(field(readDoc, "read")).toBe(true)
        expect(field(readDoc, "seen")).toBe(true)
        expect(typeof field(readDoc, "readAt")).toBe("string")
        expect(yield* promise(() => listIds("?unread=true"))).toEqual([b, loose])
        expect(yield* promise(counts)).toEqual({ unread: 2, unseen: 2, count: 2 })
        expect((yield* post(`/api/notifications/${a}/unread`)).status).toBe(204)
        expect(yield* promise(counts)).toEqual({ unread: 3, unseen: 2, count: 3 })

        expect((yield* post(`/api/notifications/${b}/archive`)).status).toBe(204)
        expect(yield* promise(() => listIds(""))).toEqual([a, loose])
        expect(yield* promise(() => listIds("?archived=true"))).toEqual([b])
        expect(yield* promise(counts)).toEqual({ unread: 2, unseen: 1, count: 2 })
        expect((yield* post(`/api/notifications/${b}/unarchive`)).status).toBe(204)
        expect(yield* promise(() => listIds(""))).toEqual([b, a, loose])

        expect((yield* post("/api/notifications/seen-all")).status).toBe(204)
        expect(yield* promise(counts)).toEqual({ unread: 3, unseen: 0, count: 3 })
        expect((yield* post(`/api/notifications/read-all?projectId=${projectId}`)).status).toBe(204)
        expect(yield* promise(() => listIds("?unread=true"))).toEqual([loose])
        expect((yield* post(`/api/notifications/archive-all?projectId=${projectId}`)).status).toBe(204)
        expect(yield* promise(() => listIds(""))).toEqual([loose])
        expect((yield* promise(() => request(url, `/api/notifications/${loose}`, { method: "DELETE", token: user.token }))).status).toBe(204)
        expect((yield* promise(() => request(url, `/api/notifications/${loose}`, { method: "DELETE", token: user.token }))).status).toBe(404)
        expect(yield* promise(() => listIds(""))).toEqual([])
        expect((yield* post("/api/notifications/archive-all")).status).toBe(204)
        expect((yield* post("/api/notifications/read-all?projectId=nope")).status).toBe(400)
        expect((yield* promise(() => request(url, "/api/notifications?archived=maybe", { token: user.token }))).status).toBe(400)
      }))

    it.scoped("counts are pushed to both sockets of a user as notifications arrive, are read, seen, archived and deleted", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const user = yield* promise(() => signUp(url, "counts"))
        const tabs = [yield* Effect.orDie(connect(url, { token: user.token })), yield* Effect.orDie(connect(url, { token: user.token }))]
        const last = (tab: (typeof tabs)[number]) => ofType(tab.messages, "counts").at(-1)?.body
        const both = (unread: number, unseen: number) =>
          promise(() =>
            eventually(async () => tabs.map(last), (seen) => seen.every((c) => field(c, "unread") === unread && field(c, "unseen") === unseen), 1_000)
          )
        yield* both(0, 0)
        const { assign } = yield* promise(() => teammateOf(url, user))
        for (const title of ["x", "y"]) yield* promise(() => assign(title))
        yield* promise(() => eventually(async () => tabs.map(last), (seen) => seen.every((c) => field(c, "unread") === 2), 5_000))
        const ids = (field((yield* promise(() => request(url, "/api/notifications", { token: user.token }))).body, "items") as Array<unknown>).map((n) => text(n, "id"))
        const post = (path: string) => promise(() => request(url, path, { method: "POST", token: user.token }))
        yield* post(`/api/notifications/${ids[0]}/read`)
        yield* both(1, 1)
        yield* post(`/api/notifications/${ids[0]}/unread`)
        yield* both(2, 1)
        yield* post("/api/notifications/seen-all")
        yield* both(2, 0)
        yield* post(`/api/notifications/${ids[1]}/archive`)
        yield* both(1, 0)
        yield* promise(() => request(url, `/api/notifications/${ids[0]}`, { method: "DELETE", token: user.token }))
        yield* both(0, 0)
        yield* post(`/api/notifications/${ids[1]}/unarchive`)
        yield* both(1, 0)
        yield* post("/api/notifications/read-all")
        yield* both(0, 0)
      }))

    it.scoped("the stream: ready, then each new notification with the unread count, heartbeats, and catch-up with ?since=", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const user = yield* promise(() => signUp(url, "stream"))
        const first = yield* Effect.orDie(connect(url, { token: user.token }))
        yield* promise(() => eventually(async () => first.messages, (m) => ofType(m, "ready").length === 1))
        expect(first.socket.protocol).toBe("bearer")
        expect(ofType(first.messages, "ready")[0]?.body).toEqual({ type: "ready", unreadCount: 0 })

        const { assign } = yield* promise(() => teammateOf(url, user))
        const created = yield* promise(() => assign("live"))
        const sentAt = Date.now()
        const [pushed] = ofType(yield* promise(() => eventually(async () => first.messages, (m) => ofType(m, "notification").length === 1)), "notification")
        expect(pushed?.body).toMatchObject({ type: "notification", unreadCount: 1, notification: { type: "task.assigned", read: false } })
        expect(field(pushed?.body, "notification", "data", "taskId")).toBe(text(created.body, "id"))
        expect((pushed?.at ?? Infinity) - sentAt).toBeLessThan(1_000)
        yield* promise(() => eventually(async () => first.messages, (m) => ofType(m, "heartbeat").length >= 1, 5_000))

        // Away for a while; two notifications happen; back with ?since= and the access token in the query.
        const lastSeen = text(field(pushed?.body, "notification"), "id")
        first.socket.close()
        for (const title of ["missed one", "missed two"]) yield* promise(() => assign(title))
        yield* promise(() =>
          eventually(() => request(url, "/api/notifications/unread-count", { token: user.token }), (r) => field(r.body, "count") === 3))
        const again = yield* Effect.orDie(connect(url, { query: `?access_token=${user.token}&since=${lastSeen}` }))
        const caughtUp = yield* promise(() => eventually(async () => again.messages, (m) => ofType(m, "notification").length === 2))
        expect(ofType(caughtUp, "notification").map((m) => text(field(m.body, "notification"), "body"))).toEqual([
          "mate assigned you 'missed one'",
          "mate assigned you 'missed two'"
        ])
      }))

    it.effect("a handshake without a valid token is refused with 401; a plain GET is told to upgrade", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const refused = yield* Effect.flip(Effect.scoped(connect(url, {})))
        expect(String(refused)).toContain("401")
        const forged = yield* Effect.flip(Effect.scoped(connect(url, { token: "a.b.c" })))
        expect(String(forged)).toContain("401")
        const { token } = yield* promise(() => signUp(url, "plain"))
        const plain = yield* promise(() => request(url, `/api/notifications/stream?access_token=${token}`))
        expect(plain.status).toBe(426)
        expect(field(plain.body, "error", "code")).toBe("upgrade_required")
      }))
  })

  it.live("two gateways and two notification services: a client on gateway A hears of a task assigned to them through gateway B within a second", () =>
    Effect.gen(function*() {
      const { gateways: [a, b] } = yield* cluster(System.testEnv("multi"), { gateways: 2, notifications: 2 })
      if (a === undefined || b === undefined) return expect.fail("two gateways were asked for")
      const user = yield* promise(() => signUp(b.url, "multi"))
      const { assign } = yield* promise(() => teammateOf(b.url, user))
      const onA = yield* Effect.orDie(connect(a.url, { token: user.token }))
      const onB = yield* Effect.orDie(connect(b.url, { token: user.token }))
      yield* promise(() => eventually(async () => [...onA.messages, ...onB.messages], (m) => ofType(m, "ready").length === 2))
      const latencies: Array<number> = []
      for (const title of ["first", "second", "third"]) {
        const created = yield* promise(() => assign(title))
        expect(created.status).toBe(201)
        const sentAt = Date.now()
        const heard = yield* promise(() =>
          eventually(async () => ofType(onA.messages, "notification").filter((m) => text(field(m.body, "notification"), "body").includes(title)), (m) => m.length === 1, 5_000))
        latencies.push((heard[0]?.at ?? Infinity) - sentAt)
      }
      expect(Math.max(...latencies)).toBeLessThan(1_000)
      // B hears them too, through its own subscription: not necessarily before A did.
      yield* promise(() => eventually(async () => ofType(onB.messages, "notification"), (m) => m.length === 3, 1_000))
      console.log(`gateway B → notification service → Redis → gateway A: ${latencies.join(", ")} ms`)
    }).pipe(Effect.scoped), { timeout: 120_000 })
})
