import { describe, expect, layer } from "@effect/vitest"
import { eventually, field, request, signUp, sleep, text } from "@herald/testing/Http"
import { Duration, Effect } from "effect"
import { connect, ofType, type StreamClient } from "@herald/testing/Stream"
import * as System from "@herald/testing/System"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

type Person = Awaited<ReturnType<typeof signUp>>

const items = (body: unknown): Array<unknown> => {
  const list = field(body, "items")
  return Array.isArray(list) ? list : []
}

/** What a person's inbox holds, oldest first: type and sentence. */
const inbox = async (url: string, person: Person) =>
  items((await request(url, "/api/notifications?limit=100", { token: person.token })).body)
    .reverse()
    .map((n) => ({ type: text(n, "type"), body: text(n, "body") }))

const pushed = (stream: StreamClient) =>
  ofType(stream.messages, "notification").map((m) => ({ type: text(m.body, "notification", "type"), body: text(m.body, "notification", "body") }))

describe("teams", () => {
  layer(System.layer("teams"), { timeout: Duration.seconds(180), excludeTestServices: true })("on the real servers", (it) => {
    it.scoped("Ada, Bob and Cy: each inbox holds exactly what that person should see, in words, pushed live; nobody is told of their own act", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const [ada, bob, cy] = yield* promise(() => Promise.all([signUp(url, "Ada"), signUp(url, "Bob"), signUp(url, "Cy")]))
        const streams = yield* Effect.forEach([ada, bob, cy], (person) => Effect.orDie(connect(url, { token: person.token })))
        yield* promise(() => eventually(async () => streams.flatMap((s) => ofType(s.messages, "ready")), (m) => m.length === 3))
        const [adaStream, bobStream, cyStream] = streams
        if (adaStream === undefined || bobStream === undefined || cyStream === undefined) return

        const project = yield* promise(() => request(url, "/api/projects", { token: ada.token, body: { name: "Launch" } }))
        expect(project.status).toBe(201)
        expect(field(project.body, "role")).toBe("owner")
        const projectId = text(project.body, "id")
        const addBob = yield* promise(() => request(url, `/api/projects/${projectId}/members`, { token: ada.token, body: { email: bob.email, role: "editor" } }))
        expect(addBob.status).toBe(201)
        expect(addBob.body).toMatchObject({ userId: bob.userId, name: "Bob", email: bob.email.toLowerCase(), role: "editor" })
        const addCy = yield* promise(() => request(url, `/api/projects/${projectId}/members`, { token: ada.token, body: { email: cy.email.toUpperCase(), role: "viewer" } }))
        expect(addCy.status).toBe(201)
        // Cy hears of being added before Bob's task exists, so the order of each inbox is the order of the acts.
        yield* promise(() => eventually(() => inbox(url, cy), (n) => n.length === 1))

        const task = yield* promise(() =>
          request(url, "/api/tasks", { token: bob.token, body: { title: "Write the README", projectId, assigneeId: ada.userId } }))
        expect(task.status).toBe(201)
        expect(task.body).toMatchObject({ assigneeId: ada.userId, watching: true, projectId })
        const taskId = text(task.body, "id")
        yield* promise(() => eventually(() => inbox(url, ada), (n) => n.length === 1))

        const comment = yield* promise(() =>
          request(url, `/api/tasks/${taskId}/comments`, { token: cy.token, body: { body: "@Bob can you add the install steps?" } }))
        expect(comment.status).toBe(201)
        expect(field(comment.body, "mentions")).toEqual([{ text: "@Bob", userId: bob.userId, ambiguous: false }])
        // Bob heard of his own joining and of Cy's, then of the mention (waiting for 2 only passed when a poll caught the moment between).
        yield* promise(() => eventually(() => inbox(url, bob), (n) => n.length === 3))

        const done = yield* promise(() => request(url, `/api/tasks/${taskId}`, { method: "PATCH", token: ada.token, body: { status: "done" } }))
        expect(done.status).toBe(200)
        yield* promise(() => eventually(() => inbox(url, cy), (n) => n.length === 2))

        expect((yield* promise(() => request(url, `/api/projects/${projectId}/members/${cy.userId}`, { method: "DELETE", token: ada.token }))).status).toBe(204)

        const expected = {
          ada: [
            { type: "task.assigned", body: "Bob assigned you 'Write the README'" },
            { type: "task.commented", body: "Cy commented on 'Write the README'" }
          ],
          bob: [
            { type: "project.member_added", body: "Ada added you to 'Launch'" },
            { type: "project.member_added", body: "Ada added Cy to 'Launch'" },
            { type: "task.mentioned", body: "Cy mentioned you in a comment on 'Write the README'" },
            { type: "task.updated", body: "Ada moved 'Write the README' to done" },
            { type: "project.member_removed", body: "Ada removed Cy from 'Launch'" }
          ],
          cy: [
            { type: "project.member_added", body: "Ada added you to 'Launch'" },
            { type: "task.updated", body: "Ada moved 'Write the README' to done" }
          ]
        }
        yield* promise(() => eventually(() => inbox(url, bob), (n) => n.length === expected.bob.length))
        // Anything wrongly sent would have arrived by now.
        yield* promise(() => sleep(1_500))
        expect(yield* promise(() => inbox(url, ada))).toEqual(expected.ada)
        expect(yield* promise(() => inbox(url, bob))).toEqual(expected.bob)
        expect(yield* promise(() => inbox(url, cy))).toEqual(expected.cy)
        expect(pushed(adaStream)).toEqual(expected.ada)
        expect(pushed(bobStream)).toEqual(expected.bob)
        expect(pushed(cyStream)).toEqual(expected.cy)

        const first = items((yield* promise(() => request(url, "/api/notifications?limit=100", { token: ada.token }))).body).at(-1)
        expect(field(first, "data")).toMatchObject({ actor: { id: bob.userId, name: "Bob" }, projectId, taskId })

        // Cy is out: the project and its task no longer exist for Cy, and the next change tells Cy nothing.
        expect((yield* promise(() => request(url, `/api/projects/${projectId}`, { token: cy.token }))).status).toBe(404)
        expect((yield* promise(() => request(url, `/api/tasks/${taskId}`, { token: cy.token }))).status).toBe(404)
        expect(items((yield* promise(() => request(url, "/api/tasks", { token: cy.token }))).body)).toEqual([])
        yield* promise(() => request(url, `/api/tasks/${taskId}`, { method: "PATCH", token: ada.token, body: { status: "in_progress" } }))
        yield* promise(() => eventually(() => inbox(url, bob), (n) => n.length === expected.bob.length + 1))
        yield* promise(() => sleep(500))
        expect(yield* promise(() => inbox(url, cy))).toEqual(expected.cy)
        expect(pushed(cyStream)).toEqual(expected.cy)
      }))
  })
})
