import { describe, expect, it } from "@effect/vitest"
import { newTaskId } from "@herald/domain/Ids"
import { eventually, field, request, signUp, text } from "@herald/testing/Http"
import { servers } from "@herald/testing/Env"
import { startService } from "@herald/testing/Services"
import { Effect } from "effect"
import { MongoClient } from "mongodb"
import { cluster } from "@herald/testing/Cluster"
import { connect, ofType } from "@herald/testing/Stream"
import * as System from "@herald/testing/System"
import { parseCsv, shown } from "./support/Csv.ts"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

/** Titles a spreadsheet or a naive CSV writer would get wrong. */
const tricky = ["plain", "comma, inside", "\"quoted\" and \"\"doubled\"\"", "two\nlines", "crlf\r\nlines", "=SUM(A1:A9)", "+1 cmd", "-2 minus", "@import", "ünïcødé ✓ 🚀"]
const titleOf = (i: number) => `${tricky[i % tricky.length] ?? "plain"} #${i}`

/**
 * Stores `count` tasks of a user straight in the tasks collection, the shape the tasks service writes, so that a
 * large export has something to read without creating 20,000 tasks through the API first.
 */
const seedTasks = (database: string, ownerId: string, projectId: string, count: number) =>
  promise(async () => {
    const client = await new MongoClient(servers().mongodbUrl).connect()
    try {
      const collection = client.db(database).collection<{ _id: string }>("tasks")
      const at = new Date()
      for (let start = 0; start < count; start += 1_000) {
        const docs = Array.from({ length: Math.min(1_000, count - start) }, (_, k) => {
          const i = start + k
          return {
            _id: Effect.runSync(newTaskId),
            ownerId,
            projectId,
            title: titleOf(i),
            description: i % 3 === 0 ? "a, b\n\"c\"" : "",
            priority: "medium",
            status: i % 2 === 0 ? "todo" : "done",
            dueDate: null,
            version: 1,
            createdAt: at,
            updatedAt: at,
            deleted: false,
            outbox: [],
            outboxPending: false
          }
        })
        await collection.insertMany(docs, { ordered: false })
      }
    } finally {
      await client.close()
    }
  })

const count = 20_000

describe("exports, through the queue, as separate processes", () => {
  it.live(
    `a ${count.toLocaleString("en")}-task CSV export survives its worker being killed, completes once, parses back to exactly the tasks, and is announced on the stream`,
    () =>
      Effect.gen(function*() {
        const env = System.testEnv("exports", { EXPORT_PAGE_SIZE: "500" })
        const running = yield* cluster(env, { gateways: 1, notifications: 1 })
        const [gateway] = running.gateways
        const [worker] = running.notifications
        if (gateway === undefined || worker === undefined) return expect.fail("the cluster has a gateway and a worker")
        const url = gateway.url
        const owner = yield* promise(() => signUp(url, "exporter"))
        const stranger = yield* promise(() => signUp(url, "stranger"))
        const project = yield* promise(() => request(url, "/api/projects", { token: owner.token, body: { name: "big" } }))
        const projectId = text(project.body, "id")
        // A few through the API, to show it accepts such titles, and the bulk straight into the store.
        for (let i = 0; i < tricky.length; i++) {
          const made = yield* promise(() => request(url, "/api/tasks", { token: owner.token, body: { title: titleOf(i), projectId } }))
          expect(made.status).toBe(201)
        }
        yield* seedTasks(env.MONGODB_DATABASE, owner.userId, projectId, count - tricky.length)
        const stream = yield* Effect.orDie(connect(url, { token: owner.token }))

        const requested = yield* promise(() => request(url, "/api/exports", { token: owner.token, body: { format: "csv", projectId } }))
        expect(requested.status).toBe(202)
        expect(field(requested.body, "status")).toBe("pending")
        const id = text(requested.body, "id")
        const early = yield* promise(() => request(url, `/api/exports/${id}/download`, { token: owner.token }))
        expect(early.status).toBe(409)
        expect(field(early.body, "error", "code")).toBe("conflict")
        for (const path of [`/api/exports/${id}`, `/api/exports/${id}/download`]) {
          const foreign = yield* promise(() => request(url, path, { token: stranger.token }))
          expect(foreign.status).toBe(404)
          expect(field(foreign.body, "error", "code")).toBe("not_found")
        }

        // The worker dies mid-export (SIGKILL: no goodbye); a new copy takes the redelivered job.
        yield* promise(() => eventually(() => request(url, `/api/exports/${id}`, { token: owner.token }), (r) => field(r.body, "status") === "running", 60_000))
        yield* Effect.sleep("500 millis")
        yield* promise(worker.kill)
        const replacement = yield* Effect.acquireRelease(
          promise(() => startService("services/notifications/src/main.ts", running.envOf(worker), { port: worker.port })),
          (process) => promise(process.stop)
        )
        expect(replacement.port).toBe(worker.port)

        const done = yield* promise(() =>
          eventually(() => request(url, `/api/exports/${id}`, { token: owner.token }), (r) => field(r.body, "status") === "completed", 180_000))
        expect(field(done.body, "error")).toBeFalsy()
        const file = yield* promise(() => request(url, `/api/exports/${id}/download`, { token: owner.token }))
        expect(file.status).toBe(200)
        expect(file.headers.get("content-disposition")).toMatch(/^attachment; filename=/)
        const [header, ...rows] = parseCsv(file.text)
        expect(header).toEqual(["id", "projectId", "title", "description", "priority", "status", "dueDate", "version", "createdAt", "updatedAt"])
        expect(rows).toHaveLength(count)
        expect(new Set(rows.map((row) => row[0])).size).toBe(count)
        // The titles, as a multiset: what the file has and the tasks lack, and the reverse, must both be empty.
        const expected = new Map<string, number>()
        for (let i = 0; i < count; i++) {
          const title = titleOf(i < tricky.length ? i : i - tricky.length)
          expected.set(title, (expected.get(title) ?? 0) + 1)
        }
        const unexpected: Array<string> = []
        for (const row of rows) {
          const title = shown(row[2] ?? "")
          const left = expected.get(title) ?? 0
          if (left === 0) unexpected.push(title)
          else expected.set(title, left - 1)
        }
        expect(unexpected.slice(0, 5)).toEqual([])
        expect([...expected].filter(([, left]) => left > 0).slice(0, 5)).toEqual([])
        expect(rows.filter((row) => (row[2] ?? "").startsWith("=")).length).toBe(0)
        expect(rows.every((row) => row[1] === projectId)).toBe(true)

        // Exactly one file: one attempt's chunks remain. Exactly one announcement, pushed in real time.
        const chunks = yield* promise(async () => {
          const client = await new MongoClient(servers().mongodbUrl).connect()
          try {
            return await client.db(env.MONGODB_DATABASE).collection("export_chunks").distinct("attempt", { exportId: id })
          } finally {
            await client.close()
          }
        })
        expect(chunks).toHaveLength(1)
        const pushed = yield* promise(() =>
          eventually(async () => ofType(stream.messages, "notification").filter((m) => text(field(m.body, "notification"), "type") === "export.completed"), (m) => m.length >= 1, 30_000))
        expect(pushed).toHaveLength(1)
        const listed = yield* promise(() => request(url, "/api/notifications?limit=100", { token: owner.token }))
        expect((field(listed.body, "items") as Array<unknown>).filter((n) => text(n, "type") === "export.completed")).toHaveLength(1)
      }).pipe(Effect.scoped),
    { timeout: 300_000 }
  )
})
