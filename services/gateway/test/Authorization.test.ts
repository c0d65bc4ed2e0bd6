import { describe, expect, layer } from "@effect/vitest"
import { request, signUp, text } from "@herald/testing/Http"
import { Duration, Effect } from "effect"
import * as System from "@herald/testing/System"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

type Person = Awaited<ReturnType<typeof signUp>>
const roles = ["owner", "editor", "viewer", "outsider", "removed"] as const
type Role = typeof roles[number]

/** A project with one person in each role (and one removed), a task and a comment of the owner. */
interface Team {
  readonly people: Record<Role, Person>
  readonly projectId: string
  readonly taskId: string
  readonly commentId: string
}

const ok = async (reply: Promise<{ readonly status: number; readonly body: unknown; readonly text: string }>, status: number) => {
  const done = await reply
  if (done.status !== status) throw new Error(`setup: expected ${status}, got ${done.status} ${done.text}`)
  return done.body
}

const makeTeam = async (url: string, people: Record<Role, Person>): Promise<Team> => {
  const { owner } = people
  const projectId = text(await ok(request(url, "/api/projects", { token: owner.token, body: { name: "Matrix" } }), 201), "id")
  const add = (person: Person, role: string) =>
    ok(request(url, `/api/projects/${projectId}/members`, { token: owner.token, body: { email: person.email, role } }), 201)
  await add(people.editor, "editor")
  await add(people.viewer, "viewer")
  await add(people.removed, "editor")
  await ok(request(url, `/api/projects/${projectId}/members/${people.removed.userId}`, { method: "DELETE", token: owner.token }), 204)
  const taskId = text(await ok(request(url, "/api/tasks", { token: owner.token, body: { title: "t", projectId } }), 201), "id")
  const commentId = text(await ok(request(url, `/api/tasks/${taskId}/comments`, { token: owner.token, body: { body: "c" } }), 201), "id")
  return { people, projectId, taskId, commentId }
}

interface Context {
  readonly url: string
  readonly team: Team
  /** Another project's task and comment (IDOR): nobody of the team may reach them. */
  readonly foreign: { readonly projectId: string; readonly taskId: string; readonly commentId: string }
  /** A fresh team with the same people, for acts that change the team itself. */
  readonly freshTeam: () => Promise<Team>
}

interface Row {
  readonly name: string
  readonly call: (context: Context, as: Person) => Promise<{ readonly status: number }>
  readonly expect: Readonly<Record<Role, number>>
}

const all = (status: number): Record<Role, number> => ({ owner: status, editor: status, viewer: status, outsider: status, removed: status })
const members = (owner: number, editor: number, viewer: number): Record<Role, number> => ({ owner, editor, viewer, outsider: 404, removed: 404 })

/** The one table: every project, task and comment endpoint, and what each role gets. */
const table: ReadonlyArray<Row> = [
  { name: "GET /api/projects/:id", call: (c, p) => request(c.url, `/api/projects/${c.team.projectId}`, { token: p.token }), expect: members(200, 200, 200) },
  { name: "PATCH /api/projects/:id", call: (c, p) => request(c.url, `/api/projects/${c.team.projectId}`, { method: "PATCH", token: p.token, body: { description: p.email } }), expect: members(200, 200, 403) },
  { name: "DELETE /api/projects/:id", call: async (c, p) => request(c.url, `/api/projects/${(await c.freshTeam()).projectId}`, { method: "DELETE", token: p.token }), expect: members(204, 403, 403) },
  { name: "GET /api/projects/:id/members", call: (c, p) => request(c.url, `/api/projects/${c.team.projectId}/members`, { token: p.token }), expect: members(200, 200, 200) },
  {
    name: "POST /api/projects/:id/members",
    call: async (c, p) => request(c.url, `/api/projects/${c.team.projectId}/members`, { token: p.token, body: { email: (await signUp(c.url, "new")).email, role: "viewer" } }),
    expect: members(201, 403, 403)
  },
  {
    name: "PATCH /api/projects/:id/members/:userId",
    call: async (c, p) => {
      const team = await c.freshTeam()
      return request(c.url, `/api/projects/${team.projectId}/members/${team.people.viewer.userId}`, { method: "PATCH", token: p.token, body: { role: "editor" } })
    },
    expect: members(200, 403, 403)
  },
  {
    name: "DELETE /api/projects/:id/members/:userId (another member)",
    call: async (c, p) => {
      const team = await c.freshTeam()
      const target = p.userId === team.people.viewer.userId ? team.people.editor : team.people.viewer
      return request(c.url, `/api/projects/${team.projectId}/members/${target.userId}`, { method: "DELETE", token: p.token })
    },
    expect: members(204, 403, 403)
  },
  {
    name: "DELETE /api/projects/:id/members/:userId (leaving)",
    call: async (c, p) => request(c.url, `/api/projects/${(await c.freshTeam()).projectId}/members/${p.userId}`, { method: "DELETE", token: p.token }),
    expect: members(409, 204, 204)
  },
  {
    name: "POST /api/projects/:id/transfer",
    call: async (c, p) => {
      const team = await c.freshTeam()
      return request(c.url, `/api/projects/${team.projectId}/transfer`, { token: p.token, body: { userId: team.people.editor.userId } })
    },
    expect: members(200, 403, 403)
  },
  { name: "POST /api/tasks (in the project)", call: (c, p) => request(c.url, "/api/tasks", { token: p.token, body: { title: "n", projectId: c.team.projectId } }), expect: members(201, 201, 403) },
  { name: "GET /api/tasks/:id", call: (c, p) => request(c.url, `/api/tasks/${c.team.taskId}`, { token: p.token }), expect: members(200, 200, 200) },
  { name: "PATCH /api/tasks/:id", call: (c, p) => request(c.url, `/api/tasks/${c.team.taskId}`, { method: "PATCH", token: p.token, body: { priority: "high" } }), expect: members(200, 200, 403) },
  {
    name: "PUT /api/tasks/:id",
    call: (c, p) => request(c.url, `/api/tasks/${c.team.taskId}`, { method: "PUT", token: p.token, body: { title: "r", projectId: c.team.projectId } }),
    expect: members(200, 200, 403)
  },
  {
    name: "DELETE /api/tasks/:id",
    call: async (c, p) => {
      const id = text(await ok(request(c.url, "/api/tasks", { token: c.team.people.owner.token, body: { title: "d", projectId: c.team.projectId } }), 201), "id")
      return request(c.url, `/api/tasks/${id}`, { method: "DELETE", token: p.token })
    },
    expect: members(204, 204, 403)
  },
  { name: "POST /api/tasks/:id/watch", call: (c, p) => request(c.url, `/api/tasks/${c.team.taskId}/watch`, { method: "POST", token: p.token }), expect: members(204, 204, 204) },
  { name: "DELETE /api/tasks/:id/watch", call: (c, p) => request(c.url, `/api/tasks/${c.team.taskId}/watch`, { method: "DELETE", token: p.token }), expect: members(204, 204, 204) },
  { name: "POST /api/tasks/:id/comments", call: (c, p) => request(c.url, `/api/tasks/${c.team.taskId}/comments`, { token: p.token, body: { body: "hi" } }), expect: members(201, 201, 201) },
  { name: "GET /api/tasks/:id/comments", call: (c, p) => request(c.url, `/api/tasks/${c.team.taskId}/comments`, { token: p.token }), expect: members(200, 200, 200) },
  { name: "PATCH /api/comments/:id (the owner's)", call: (c, p) => request(c.url, `/api/comments/${c.team.commentId}`, { method: "PATCH", token: p.token, body: { body: "e" } }), expect: members(200, 403, 403) },
  {
    name: "DELETE /api/comments/:id (the owner's)",
    call: async (c, p) => {
      const id = text(await ok(request(c.url, `/api/tasks/${c.team.taskId}/comments`, { token: c.team.people.owner.token, body: { body: "x" } }), 201), "id")
      return request(c.url, `/api/comments/${id}`, { method: "DELETE", token: p.token })
    },
    expect: members(204, 204, 403)
  },
  { name: "POST /api/exports (of the project)", call: (c, p) => request(c.url, "/api/exports", { token: p.token, body: { format: "json", projectId: c.team.projectId } }), expect: members(202, 202, 202) },
  // Other projects' resources, named by id (IDOR): nobody of this team reaches them.
  { name: "GET /api/projects/:id (another project)", call: (c, p) => request(c.url, `/api/projects/${c.foreign.projectId}`, { token: p.token }), expect: all(404) },
  { name: "GET /api/tasks/:id (another project's)", call: (c, p) => request(c.url, `/api/tasks/${c.foreign.taskId}`, { token: p.token }), expect: all(404) },
  { name: "PATCH /api/tasks/:id (another project's)", call: (c, p) => request(c.url, `/api/tasks/${c.foreign.taskId}`, { method: "PATCH", token: p.token, body: { title: "x" } }), expect: all(404) },
  { name: "DELETE /api/tasks/:id (another project's)", call: (c, p) => request(c.url, `/api/tasks/${c.foreign.taskId}`, { method: "DELETE", token: p.token }), expect: all(404) },
  { name: "POST /api/tasks/:id/watch (another project's)", call: (c, p) => request(c.url, `/api/tasks/${c.foreign.taskId}/watch`, { method: "POST", token: p.token }), expect: all(404) },
  { name: "GET /api/tasks/:id/comments (another project's)", call: (c, p) => request(c.url, `/api/tasks/${c.foreign.taskId}/comments`, { token: p.token }), expect: all(404) },
  { name: "POST /api/tasks/:id/comments (another project's)", call: (c, p) => request(c.url, `/api/tasks/${c.foreign.taskId}/comments`, { token: p.token, body: { body: "x" } }), expect: all(404) },
  { name: "PATCH /api/comments/:id (another project's)", call: (c, p) => request(c.url, `/api/comments/${c.foreign.commentId}`, { method: "PATCH", token: p.token, body: { body: "x" } }), expect: all(404) },
  { name: "DELETE /api/comments/:id (another project's)", call: (c, p) => request(c.url, `/api/comments/${c.foreign.commentId}`, { method: "DELETE", token: p.token }), expect: all(404) },
  { name: "GET /api/projects/:id/members (another project)", call: (c, p) => request(c.url, `/api/projects/${c.foreign.projectId}/members`, { token: p.token }), expect: all(404) },
  {
    name: "POST /api/tasks (in another project)",
    call: (c, p) => request(c.url, "/api/tasks", { token: p.token, body: { title: "x", projectId: c.foreign.projectId } }),
    expect: all(404)
  },
  {
    name: "PATCH /api/tasks/:id moving it into another project",
    call: (c, p) => request(c.url, `/api/tasks/${c.team.taskId}`, { method: "PATCH", token: p.token, body: { projectId: c.foreign.projectId } }),
    expect: members(404, 404, 403)
  }
]

describe("authorisation", () => {
  layer(System.layer("authz"), { timeout: Duration.seconds(300), excludeTestServices: true })("on the real servers", (it) => {
    it.effect("every project, task and comment endpoint × (owner, editor, viewer, non-member, removed member) answers as the table says", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const people = yield* promise(async () => {
          const [owner, editor, viewer, outsider, removed, stranger] = await Promise.all(
            ["owner", "editor", "viewer", "outsider", "removed", "stranger"].map((label) => signUp(url, label))
          )
          if (owner === undefined || editor === undefined || viewer === undefined || outsider === undefined || removed === undefined || stranger === undefined) {
            throw new Error("sign-up failed")
          }
          return { team: { owner, editor, viewer, outsider, removed }, stranger }
        })
        const team = yield* promise(() => makeTeam(url, people.team))
        const foreign = yield* promise(async () => {
          const { stranger } = people
          const projectId = text(await ok(request(url, "/api/projects", { token: stranger.token, body: { name: "Elsewhere" } }), 201), "id")
          const taskId = text(await ok(request(url, "/api/tasks", { token: stranger.token, body: { title: "secret", projectId } }), 201), "id")
          const commentId = text(await ok(request(url, `/api/tasks/${taskId}/comments`, { token: stranger.token, body: { body: "secret" } }), 201), "id")
          return { projectId, taskId, commentId }
        })
        const context: Context = { url, team, foreign, freshTeam: () => makeTeam(url, people.team) }
        const seen: Array<string> = []
        const wrong: Array<string> = []
        for (const row of table) {
          for (const role of roles) {
            const reply = yield* promise(() => row.call(context, people.team[role]))
            seen.push(`${row.name} as ${role}`)
            if (reply.status !== row.expect[role]) wrong.push(`${row.name} as ${role}: ${reply.status}, expected ${row.expect[role]}`)
          }
        }
        expect(wrong).toEqual([])
        expect(seen).toHaveLength(table.length * roles.length)
      }))
  })
})
