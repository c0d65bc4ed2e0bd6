import { describe, expect, layer } from "@effect/vitest"
import { eventsExchange } from "@herald/domain/Events"
import { ulidAt } from "@herald/domain/Ids"
import { servers } from "@herald/testing/Env"
import { eventually, field, request, signUp, text } from "@herald/testing/Http"
import { Duration, Effect } from "effect"
import fc from "fast-check"
import * as System from "@herald/testing/System"
import { exportCompleted, publish, taskCreated } from "./support/Events.ts"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

/** A counter's value in a Prometheus scrape, by its full series name (`name{label="value"}`). */
const series = (metrics: string, name: string) =>
  Number(metrics.split("\n").find((line) => line.startsWith(`${name} `))?.slice(name.length + 1) ?? 0)
const batchReads = 'herald_preferences_read_total{how="batch"}'

/**
 * The user and a teammate share a project: the teammate's events in it concern the user (a watcher of its tasks, a
 * member at its deletion), as an export's outcome concerns the user who asked. Nobody is told of their own act.
 */
interface Team {
  readonly userId: string
  readonly mateId: string
  readonly projectId: string
}

/** The teammate's task events are made at project version `seq` (the project is deleted at earlier versions only). */
const inProject = (team: Team, seq: number, watchers: ReadonlyArray<string>, assigneeId: string | null) => ({
  projectId: team.projectId,
  assigneeId,
  audience: { watchers, memberIds: [team.userId, team.mateId], projectVersion: seq }
})

/** Events the consumer turns into notifications for the user, one builder per type (`export.failed` is critical). */
const eventOf = (type: string, team: Team, seq: number) => {
  const at = new Date()
  const created = taskCreated(team.mateId, seq, at, inProject(team, seq, [team.userId], null))
  if (type === "task.created") return created
  if (type === "export.completed") return exportCompleted(team.userId, seq)
  const id = `evt_${ulidAt(at.getTime())}`
  switch (type) {
    case "task.updated":
      return { ...created, id, type, aggregateVersion: 2, data: { ...created.data, previousStatus: "todo", previousProjectId: team.projectId, previousAssigneeId: null, changes: ["title"] } }
    case "task.deleted":
      return { ...created, id, type, aggregateVersion: 2 }
    case "project.deleted":
      return {
        ...created,
        id,
        type,
        aggregateId: team.projectId,
        aggregateVersion: seq,
        data: { projectId: team.projectId, name: `p${seq}`, members: [{ userId: team.mateId, role: "owner" }, { userId: team.userId, role: "editor" }] }
      }
    default: {
      const failed = exportCompleted(team.userId, seq)
      return { ...failed, type: "export.failed", data: { exportId: failed.data.exportId, format: "csv", error: `failure ${seq}` } }
    }
  }
}
const eventTypes = ["task.created", "task.updated", "task.deleted", "project.deleted", "export.completed", "export.failed"] as const
const critical = new Set(["export.failed", "security.session_revoked"])

/** The contract (API.md, "Preferences"), written out on its own: what a user with these preferences gets in-app. */
const expectedInApp = (preferences: Preferences, type: string) =>
  critical.has(type) || (preferences.channels.in_app && preferences.types[type]?.in_app !== false)

interface Preferences {
  readonly channels: { readonly in_app: boolean; readonly email: boolean; readonly webhook: boolean }
  readonly types: Record<string, { readonly in_app?: boolean; readonly email?: boolean; readonly webhook?: boolean }>
  readonly digest: { readonly email: "off" | "hourly" | "daily" }
  readonly quietHours: null | { readonly start: string; readonly end: string; readonly timeZone: string }
}

const switches = fc.record({ in_app: fc.boolean(), email: fc.boolean(), webhook: fc.boolean() }, { requiredKeys: [] })
const preferencesArbitrary: fc.Arbitrary<Preferences> = fc.record({
  channels: fc.record({ in_app: fc.boolean(), email: fc.boolean(), webhook: fc.boolean() }),
  types: fc.dictionary(fc.constantFrom(...eventTypes, "task.assigned", "security.session_revoked"), switches, { maxKeys: 6 }).map((types) =>
    // A critical type cannot be turned off in-app (that PUT is a 400, tested below): leave such a switch out.
    Object.fromEntries(Object.entries(types).map(([type, s]) => [type, critical.has(type) && s.in_app === false ? { ...s, in_app: true } : s]))
  ),
  digest: fc.record({ email: fc.constantFrom("off" as const, "hourly" as const, "daily" as const) }),
  quietHours: fc.option(fc.record({ start: fc.constant("22:00"), end: fc.constant("07:30"), timeZone: fc.constantFrom("Europe/Paris", "America/New_York", "UTC") }), { nil: null })
})

describe("preferences", () => {
  layer(System.layer("preferences", {}), { timeout: Duration.seconds(180), excludeTestServices: true })("one system", (it) => {
    it.effect("GET gives the defaults, PUT replaces and GET reads back; unknown type or channel, a critical type off in-app, bad times and zones: 400", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const { token } = yield* promise(() => signUp(url, "prefs"))
        const get = () => promise(() => request(url, "/api/users/preferences", { token }))
        const put = (body: unknown) => promise(() => request(url, "/api/users/preferences", { method: "PUT", token, body }))
        expect((yield* get()).body).toEqual({ channels: { in_app: true, email: true, webhook: true }, types: {}, digest: { email: "off" }, quietHours: null })
        const wanted = {
          channels: { in_app: true, email: false, webhook: true },
          types: { "task.updated": { in_app: false, email: true }, "export.failed": { email: false } },
          digest: { email: "daily" },
          quietHours: { start: "22:00", end: "07:30", timeZone: "Europe/Paris" }
        }
        const replaced = yield* put(wanted)
        expect(replaced.status).toBe(200)
        expect(replaced.body).toEqual(wanted)
        expect((yield* get()).body).toEqual(wanted)
        const refused = [
          { ...wanted, types: { "task.nope": { in_app: false } } },
          { ...wanted, types: { "task.updated": { sms: true } } },
          { ...wanted, channels: { ...wanted.channels, sms: true } },
          { ...wanted, types: { "security.session_revoked": { in_app: false } } },
          { ...wanted, types: { "export.failed": { in_app: false } } },
          { ...wanted, quietHours: { start: "24:00", end: "07:30", timeZone: "Europe/Paris" } },
          { ...wanted, quietHours: { start: "7:30", end: "08:00", timeZone: "Europe/Paris" } },
          { ...wanted, quietHours: { start: "22:00", end: "07:30", timeZone: "Europe/Nowhere" } },
          { ...wanted, digest: { email: "weekly" } },
          { channels: wanted.channels }
        ]
        for (const body of refused) {
          const answer = yield* put(body)
          expect(answer.status, JSON.stringify(body)).toBe(400)
          expect(field(answer.body, "error", "code")).toBe("validation_failed")
        }
        expect((yield* get()).body).toEqual(wanted)
      }))

    it.effect("an event told to a whole project (its members' preferences read in one batch) follows each member's own", () =>
      Effect.gen(function*() {
        const { metricsUrl, url } = yield* System.TestSystem
        const before = series((yield* promise(() => request(metricsUrl, ""))).text, batchReads)
        const owner = yield* promise(() => signUp(url, "batch-owner"))
        const project = yield* promise(() => request(url, "/api/projects", { token: owner.token, body: { name: "Batch" } }))
        const projectId = text(project.body, "id")
        const muting = [
          { channels: { in_app: false, email: true, webhook: true }, types: {} },
          { channels: { in_app: true, email: true, webhook: true }, types: { "project.updated": { in_app: false } } },
          { channels: { in_app: true, email: true, webhook: true }, types: { "project.updated": { email: false } } },
          null
        ]
        const members = yield* Effect.forEach([...muting, ...muting], (wanted, index) =>
          promise(async () => {
            const member = await signUp(url, `batch-${index}`)
            const added = await request(url, `/api/projects/${projectId}/members`, { token: owner.token, body: { email: member.email, role: "viewer" } })
            expect(added.status).toBe(201)
            if (wanted !== null) {
              const put = await request(url, "/api/users/preferences", { method: "PUT", token: member.token, body: { ...wanted, digest: { email: "off" }, quietHours: null } })
              expect(put.status).toBe(200)
            }
            return { member, hears: wanted === null || (wanted.channels.in_app && wanted.types["project.updated"]?.in_app !== false) }
          }), { concurrency: 4 })
        const renamed = yield* promise(() => request(url, `/api/projects/${projectId}`, { method: "PATCH", token: owner.token, body: { name: "Batch, renamed" } }))
        expect(renamed.status).toBe(200)
        const updatesOf = async (token: string) =>
          (field((await request(url, "/api/notifications?type=project.updated", { token })).body, "items") as Array<unknown>).length
        // The last member to hear it settles the delivery: one insert serves them all.
        const listening = members.filter(({ hears }) => hears)
        yield* promise(() => eventually(() => updatesOf(listening[listening.length - 1]?.member.token ?? ""), (count) => count === 1, 10_000))
        const heard = yield* Effect.forEach(members, ({ member }) => promise(() => updatesOf(member.token)))
        expect(heard).toEqual(members.map(({ hears }) => (hears ? 1 : 0)))
        // A delivery reads what its cache lacks in one batch before anything else: each new member was in one at least.
        expect(series((yield* promise(() => request(metricsUrl, ""))).text, batchReads) - before).toBeGreaterThanOrEqual(members.length)
      }))

    it.effect("property: over random preferences and events, a notification is stored in-app exactly when the contract says, from the next event after a PUT", () =>
      Effect.gen(function*() {
        const { env, url } = yield* System.TestSystem
        const user = yield* promise(() => signUp(url, "prefs-property"))
        const mate = yield* promise(() => signUp(url, "prefs-mate"))
        const team: Team = { userId: user.userId, mateId: mate.userId, projectId: `prj_${ulidAt(Date.now())}` }
        const exchange = `${env.AMQP_PREFIX}${eventsExchange}`
        const exports = new Set(["export.completed", "export.failed"])
        const inbox = async (token: string) =>
          field((await request(url, "/api/notifications?limit=100", { token })).body, "items") as Array<unknown>
        let seq = 0
        let runs = 0
        yield* promise(() =>
          fc.assert(
            fc.asyncProperty(preferencesArbitrary, fc.array(fc.constantFrom(...eventTypes), { minLength: 1, maxLength: 8 }), async (preferences, types) => {
              runs += 1
              const put = await request(url, "/api/users/preferences", { method: "PUT", token: user.token, body: preferences })
              expect(put.status).toBe(200)
              // Each run's events, then one last event in each of their two consumer mailboxes (handled in order):
              // the user's export failure (critical, always delivered) in the user's, and in the project's a task the
              // user assigns the teammate (default preferences). Once both are stored, every earlier one is decided.
              const events = [...types, "export.failed"].map((type) => eventOf(type, team, ++seq))
              const closing = ++seq
              const sentinel = taskCreated(user.userId, closing, new Date(), inProject(team, closing, [], mate.userId), `closing-${closing}`)
              await publish(servers().amqpUrl, exchange, [...events, sentinel].map((event) => ({ routingKey: event.type, body: JSON.stringify(event), messageId: event.id })))
              const failure = `failure ${closing - 1}`
              try {
                await eventually(() => inbox(mate.token), (items) => items.some((n) => text(n, "body").includes(`closing-${closing}`)), 10_000)
                const stored = await eventually(() => inbox(user.token), (items) => items.some((n) => text(n, "body").includes(failure)), 10_000)
                // Earlier runs' notifications were archived: the inbox holds this run's, newest first. The two mailboxes
                // run side by side, so each one's order is kept, not their interleaving.
                const kept = stored.map((n) => text(n, "type")).reverse()
                const wanted = events.map((event) => event.type).filter((type) => expectedInApp(preferences, type))
                expect(kept.filter((type) => exports.has(type))).toEqual(wanted.filter((type) => exports.has(type)))
                expect(kept.filter((type) => !exports.has(type))).toEqual(wanted.filter((type) => !exports.has(type)))
              } finally {
                // Clean slate for the next run (a shrinking run too).
                await request(url, "/api/notifications/archive-all", { method: "POST", token: user.token })
                await request(url, "/api/notifications/archive-all", { method: "POST", token: mate.token })
              }
            }),
            { numRuns: 25 }
          )
        )
        console.log(`${runs} runs of random preferences and 2..9 events`)
      }), { timeout: 180_000 })
  })
})
