import { describe, expect, it } from "@effect/vitest"
import { eventually, field, request, signUp, text } from "@herald/testing/Http"
import { startFerretDb } from "@herald/testing/FerretDb"
import { Effect } from "effect"
import { cluster } from "@herald/testing/Cluster"
import * as System from "@herald/testing/System"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

describe("what clients are told when a dependency fails", () => {
  it.live("503 bodies, failed exports and export.failed notifications carry a fixed message, never a driver's (no internal address)", () =>
    Effect.gen(function*() {
      // The tasks service on a database of its own, which then goes away.
      const database = yield* Effect.acquireRelease(promise(startFerretDb), (server) => promise(server.stop))
      const running = yield* cluster(System.testEnv("disclose", { EXPORT_DEADLINE: "3 seconds" }), {
        gateways: 1,
        notifications: 1,
        tasksEnv: { MONGODB_URL: database.url }
      })
      const url = running.gateways[0]?.url ?? ""
      const user = yield* promise(() => signUp(url, "disclose"))
      expect((yield* promise(() => request(url, "/api/tasks", { token: user.token, body: { title: "before" } }))).status).toBe(201)
      yield* promise(database.stop)
      const internal = new RegExp(`127\\.0\\.0\\.1|localhost|:${database.port}\\b|ECONNREFUSED|Mongo`, "i")

      const listed = yield* promise(() => request(url, "/api/tasks", { token: user.token }))
      expect(listed.status).toBe(503)
      expect(listed.body).toEqual({ error: { code: "dependency_unavailable", message: "the database is unavailable", details: { dependency: "mongodb" } } })

      const requested = yield* promise(() => request(url, "/api/exports", { token: user.token, body: { format: "json" } }))
      expect(requested.status).toBe(202)
      const failed = yield* promise(() =>
        eventually(() => request(url, `/api/exports/${text(requested.body, "id")}`, { token: user.token }), (r) => field(r.body, "status") === "failed", 60_000))
      expect(field(failed.body, "error")).toBe("the export could not be completed; please request it again")
      const notified = yield* promise(() =>
        eventually(
          () => request(url, "/api/notifications", { token: user.token }),
          (r) => JSON.stringify(r.body).includes("export.failed"),
          30_000
        ))
      const items: unknown = field(notified.body, "items")
      const notification = Array.isArray(items) ? items.find((n) => text(n, "type") === "export.failed") : undefined
      expect(JSON.stringify(notification)).not.toMatch(internal)
      expect(text(notification, "body")).toContain("the export could not be completed")
    }).pipe(Effect.scoped), { timeout: 120_000 })
})
