import { describe, expect, it, layer } from "@effect/vitest"
import { eventually, field, request, signUp, sleep, text } from "@herald/testing/Http"
import { Duration, Effect } from "effect"
import * as System from "@herald/testing/System"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

const counts = (body: unknown) => field(body, "taskCounts")

describe("projects and tasks, through the gateway", () => {
  layer(System.layer("tasks"), { timeout: Duration.seconds(120), excludeTestServices: true })("on the real servers", (it) => {
    it.effect("tasks: create (and the upload alias), get, list, PUT and PATCH bump the version, delete", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const { token } = yield* promise(() => signUp(url, "crud"))
        const created = yield* promise(() =>
          request(url, "/api/tasks", { token, body: { title: "  Write report  ", priority: "high", dueDate: "2030-01-31" } }))
        expect(created.status).toBe(201)
        expect(created.body).toMatchObject({
          title: "Write report",
          description: "",
          priority: "high",
          status: "todo",
          projectId: null,
          dueDate: "2030-01-31T00:00:00.000Z",
          version: 1
        })
        const id = text(created.body, "id")
        const aliased = yield* promise(() => request(url, "/api/tasks/upload", { token, body: { title: "via alias" } }))
        expect(aliased.status).toBe(201)

        expect((yield* promise(() => request(url, `/api/tasks/${id}`, { token }))).body).toEqual(created.body)
        const replaced = yield* promise(() => request(url, `/api/tasks/${id}`, { method: "PUT", token, body: { title: "Replaced", status: "in_progress" } }))
        expect(replaced.status).toBe(200)
        expect(replaced.body).toMatchObject({ title: "Replaced", status: "in_progress", priority: "medium", dueDate: null, version: 2 })
        const patched = yield* promise(() => request(url, `/api/tasks/${id}`, { method: "PATCH", token, body: { description: "more" } }))
        expect(patched.body).toMatchObject({ title: "Replaced", description: "more", status: "in_progress", version: 3 })

        const listed = yield* promise(() => request(url, "/api/tasks", { token }))
        expect((field(listed.body, "items") as Array<unknown>).map((t) => text(t, "id"))).toEqual([text(aliased.body, "id"), id])
        expect(field(listed.body, "nextCursor")).toBeNull()
        const filtered = yield* promise(() => request(url, "/api/tasks?status=in_progress", { token }))
        expect((field(filtered.body, "items") as Array<unknown>).map((t) => text(t, "id"))).toEqual([id])

        expect((yield* promise(() => request(url, `/api/tasks/${id}`, { method: "DELETE", token }))).status).toBe(204)
        expect((yield* promise(() => request(url, `/api/tasks/${id}`, { token }))).status).toBe(404)
        expect((yield* promise(() => request(url, `/api/tasks/${id}`, { method: "DELETE", token }))).status).toBe(404)
      }))

    it.effect("If-Match: the current version updates, a stale one is 409 and changes nothing", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const { token } = yield* promise(() => signUp(url, "ifmatch"))
        const id = text((yield* promise(() => request(url, "/api/tasks", { token, body: { title: "t" } }))).body, "id")
        const first = yield* promise(() =>
          request(url, `/api/tasks/${id}`, { method: "PATCH", token, headers: { "if-match": "1" }, body: { status: "done" } }))
        expect(first.status).toBe(200)
        const stale = yield* promise(() =>
          request(url, `/api/tasks/${id}`, { method: "PATCH", token, headers: { "if-match": "\"1\"" }, body: { status: "todo" } }))
        expect(stale.status).toBe(409)
        expect(stale.body).toMatchObject({ error: { code: "conflict", details: { expected: 1, current: 2 } } })
        const staleDelete = yield* promise(() => request(url, `/api/tasks/${id}`, { method: "DELETE", token, headers: { "if-match": "1" } }))
        expect(staleDelete.status).toBe(409)
        expect((yield* promise(() => request(url, `/api/tasks/${id}`, { token }))).body).toMatchObject({ status: "done", version: 2 })
        const badHeader = yield* promise(() =>
          request(url, `/api/tasks/${id}`, { method: "PATCH", token, headers: { "if-match": "yesterday" }, body: {} }))
        expect(badHeader.status).toBe(400)
      }))

    it.effect("only the owner sees or touches a task or a project: others get 404", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const owner = yield* promise(() => signUp(url, "owner"))
        const other = yield* promise(() => signUp(url, "other"))
        const project = text((yield* promise(() => request(url, "/api/projects", { token: owner.token, body: { name: "Mine" } }))).body, "id")
        const task = text((yield* promise(() => request(url, "/api/tasks", { token: owner.token, body: { title: "mine", projectId: project } }))).body, "id")
        const attempts = [
          request(url, `/api/tasks/${task}`, { token: other.token }),
          request(url, `/api/tasks/${task}`, { method: "PATCH", token: other.token, body: { title: "stolen" } }),
          request(url, `/api/tasks/${task}`, { method: "PUT", token: other.token, body: { title: "stolen" } }),
          request(url, `/api/tasks/${task}`, { method: "DELETE", token: other.token }),
          request(url, `/api/projects/${project}`, { token: other.token }),
          request(url, `/api/projects/${project}`, { method: "PATCH", token: other.token, body: { name: "x" } }),
          request(url, `/api/projects/${project}`, { method: "DELETE", token: other.token }),
          request(url, "/api/tasks", { token: other.token, body: { title: "into yours", projectId: project } })
        ]
        const replies = yield* promise(() => Promise.all(attempts))
        expect(replies.map((r) => r.status)).toEqual([404, 404, 404, 404, 404, 404, 404, 404])
        expect(text((yield* promise(() => request(url, "/api/tasks?projectId=" + project, { token: other.token }))).body, "items", "length")).toBe("0")
        expect((yield* promise(() => request(url, `/api/tasks/${task}`, { token: owner.token }))).body).toMatchObject({ title: "mine", version: 1 })
      }))

    it.effect("paging newest first during concurrent inserts: no duplicates, no gaps", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const { token } = yield* promise(() => signUp(url, "paging"))
        const create = (title: string) => promise(() => request(url, "/api/tasks", { token, body: { title } }))
        const before = yield* Effect.forEach(Array.from({ length: 45 }, (_, i) => `before-${i}`), create, { concurrency: 5 })
        const existing = new Set(before.map((r) => text(r.body, "id")))
        const seen: Array<string> = []
        let cursor: string | null = null
        let page = 0
        do {
          const query: string = cursor === null ? "?limit=7" : `?limit=7&cursor=${cursor}`
          const reply = yield* promise(() => request(url, `/api/tasks${query}`, { token }))
          expect(reply.status).toBe(200)
          seen.push(...(field(reply.body, "items") as Array<unknown>).map((t) => text(t, "id")))
          cursor = field(reply.body, "nextCursor") as string | null
          // Inserts land while paging: they are newer than the cursor, so they belong to no later page.
          yield* Effect.forEach([1, 2], (n) => create(`during-${page}-${n}`), { concurrency: 2 })
          page += 1
        } while (cursor !== null)
        expect(new Set(seen).size).toBe(seen.length)
        expect(seen.filter((id) => existing.has(id)).length).toBe(existing.size)
        expect([...seen].sort().reverse()).toEqual(seen)
      }))

    it.effect("projects: counts follow task statuses, deleting a project deletes its tasks and tells its members once", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const { token } = yield* promise(() => signUp(url, "projects"))
        const member = yield* promise(() => signUp(url, "member"))
        const created = yield* promise(() => request(url, "/api/projects", { token, body: { name: " Launch ", description: "q3" } }))
        expect(created.status).toBe(201)
        expect(created.body).toMatchObject({ name: "Launch", description: "q3", taskCounts: { todo: 0, in_progress: 0, done: 0 } })
        const projectId = text(created.body, "id")
        const add = (status: string) => promise(() => request(url, "/api/tasks", { token, body: { title: status, status, projectId } }))
        const tasks = yield* Effect.forEach(["todo", "todo", "in_progress", "done", "done", "done"], add)
        const moved = text(tasks[0]?.body, "id")
        yield* promise(() => request(url, `/api/tasks/${moved}`, { method: "PATCH", token, body: { status: "done" } }))
        yield* promise(() => request(url, `/api/tasks/${text(tasks[2]?.body, "id")}`, { method: "DELETE", token }))
        const expected = { todo: 1, in_progress: 0, done: 4 }
        const project = yield* promise(() =>
          eventually(() => request(url, `/api/projects/${projectId}`, { token }), (r) => JSON.stringify(counts(r.body)) === JSON.stringify(expected)))
        expect(counts(project.body)).toEqual(expected)
        const listed = yield* promise(() => request(url, "/api/projects", { token }))
        expect(field(listed.body, "items", 0, "taskCounts")).toEqual(expected)
        const renamed = yield* promise(() => request(url, `/api/projects/${projectId}`, { method: "PATCH", token, body: { name: "Launch v2" } }))
        expect(renamed.body).toMatchObject({ name: "Launch v2", description: "q3", taskCounts: expected })

        const added = yield* promise(() => request(url, `/api/projects/${projectId}/members`, { token, body: { email: member.email, role: "viewer" } }))
        expect(added.status).toBe(201)
        expect((yield* promise(() => request(url, `/api/projects/${projectId}`, { method: "DELETE", token }))).status).toBe(204)
        expect((yield* promise(() => request(url, `/api/projects/${projectId}`, { token }))).status).toBe(404)
        expect((yield* promise(() => request(url, `/api/projects/${projectId}`, { token: member.token }))).status).toBe(404)
        const remaining = yield* promise(() => request(url, `/api/tasks?projectId=${projectId}`, { token }))
        expect(field(remaining.body, "items")).toEqual([])
        expect((yield* promise(() => request(url, `/api/tasks/${moved}`, { token }))).status).toBe(404)
        // The member is told of the deletion once, not of each task the cascade deleted; the owner, who did it, of nothing.
        const told = yield* promise(() =>
          eventually(
            () => request(url, "/api/notifications?limit=100", { token: member.token }),
            (r) => (field(r.body, "items") as Array<unknown>).some((n) => text(n, "type") === "project.deleted")
          ))
        yield* promise(() => sleep(1_000))
        const after = yield* promise(() => request(url, "/api/notifications?limit=100", { token: member.token }))
        expect(after.body).toEqual(told.body)
        expect((field(after.body, "items") as Array<unknown>).map((n) => [text(n, "type"), text(n, "body")])).toEqual([
          ["project.deleted", "projects deleted 'Launch v2' and its tasks"],
          ["project.member_added", "projects added you to 'Launch v2'"]
        ])
        expect(field((yield* promise(() => request(url, "/api/notifications", { token }))).body, "items")).toEqual([])
      }))

    it.effect("bad input is 4xx in the error shape: ids, enums, lengths, unknown projects, cursors", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const { token } = yield* promise(() => signUp(url, "bad"))
        const cases: ReadonlyArray<readonly [string, Parameters<typeof request>[2], number]> = [
          ["/api/tasks/not-an-id", { token }, 404],
          ["/api/tasks/tsk_01M83N7SEMGWZ7Z3S3GWPHE91P", { token }, 404],
          ["/api/tasks", { token, body: { title: "" } }, 400],
          ["/api/tasks", { token, body: { title: "   " } }, 400],
          ["/api/tasks", { token, body: { title: "x".repeat(201) } }, 400],
          ["/api/tasks", { token, body: { title: "x", description: "y".repeat(5001) } }, 400],
          ["/api/tasks", { token, body: { title: "x", status: "blocked" } }, 400],
          ["/api/tasks", { token, body: { title: "x", priority: "urgent" } }, 400],
          ["/api/tasks", { token, body: { title: "x", dueDate: "next week" } }, 400],
          ["/api/tasks", { token, body: { title: "x", projectId: "prj_01M83N7SEMGWZ7Z3S3GWPHE91P" } }, 404],
          ["/api/tasks", { token, body: { title: "x", projectId: 7 } }, 400],
          ["/api/tasks?limit=0", { token }, 400],
          ["/api/tasks?limit=101", { token }, 400],
          ["/api/tasks?status=blocked", { token }, 400],
          ["/api/tasks?cursor=bm90LWFuLWlk", { token }, 400],
          ["/api/projects", { token, body: { name: "" } }, 400],
          ["/api/projects/prj_nope", { token }, 404]
        ]
        for (const [path, call, status] of cases) {
          const reply = yield* promise(() => request(url, path, call))
          expect([path, reply.status]).toEqual([path, status])
          expect(typeof field(reply.body, "error", "code")).toBe("string")
        }
      }))
  })

  it.live("on the embedded store, concurrent If-Match writers: exactly one wins each version", () =>
    Effect.gen(function*() {
      // Exact only where compare-and-set is atomic: MongoDB and the in-memory store (FerretDB v1 updates are not
      // atomic, see FERRETDB.md). The same code runs on both; stale versions are tested sequentially above.
      const { url } = yield* System.TestSystem
      const { token } = yield* promise(() => signUp(url, "cas"))
      const id = text((yield* promise(() => request(url, "/api/tasks", { token, body: { title: "contended" } }))).body, "id")
      for (let version = 1; version <= 5; version++) {
        const replies = yield* Effect.forEach(Array.from({ length: 8 }, (_, i) => i), (i) =>
          promise(() =>
            request(url, `/api/tasks/${id}`, { method: "PATCH", token, headers: { "if-match": String(version) }, body: { title: `writer ${i}` } })
          ), { concurrency: "unbounded" })
        expect(replies.filter((r) => r.status === 200)).toHaveLength(1)
        expect(replies.filter((r) => r.status === 409)).toHaveLength(7)
      }
      expect((yield* promise(() => request(url, `/api/tasks/${id}`, { token }))).body).toMatchObject({ version: 6 })
    }).pipe(Effect.provide(System.layer("cas", { embedded: true }))), { timeout: 60_000 })
})
