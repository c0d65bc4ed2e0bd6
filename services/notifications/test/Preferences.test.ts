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

/** Events the consumer turns into notifications, one builder per type (`export.failed` is critical). */
const eventOf = (type: string, userId: string, seq: number) => {
  if (type === "task.created") return taskCreated(userId, seq)
  if (type === "export.completed") return exportCompleted(userId, seq)
  const at = new Date()
  const created = taskCreated(userId, seq, at)
  const id = `evt_${ulidAt(at.getTime())}`
  switch (type) {
    case "task.updated":
      return { ...created, id, type, aggregateVersion: 2, data: { ...created.data, previousStatus: "todo", previousProjectId: null, changes: ["title"] } }
    case "task.deleted":
      return { ...created, id, type, aggregateVersion: 2 }
    case "project.deleted":
      return { ...created, id, type, aggregateId: `prj_${ulidAt(at.getTime())}`, data: { projectId: `prj_${ulidAt(at.getTime())}`, name: `p${seq}` } }
    default: {
      const failed = exportCompleted(userId, seq)
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

    it.effect("property: over random preferences and events, a notification is stored in-app exactly when the contract says, from the next event after a PUT", () =>
      Effect.gen(function*() {
        const { env, url } = yield* System.TestSystem
        const user = yield* promise(() => signUp(url, "prefs-property"))
        const exchange = `${env.AMQP_PREFIX}${eventsExchange}`
        let seq = 0
        let runs = 0
        yield* promise(() =>
          fc.assert(
            fc.asyncProperty(preferencesArbitrary, fc.array(fc.constantFrom(...eventTypes), { minLength: 1, maxLength: 8 }), async (preferences, types) => {
              runs += 1
              const put = await request(url, "/api/users/preferences", { method: "PUT", token: user.token, body: preferences })
              expect(put.status).toBe(200)
              // Each run's events, then a critical one that is always delivered: the user's events are handled in
              // order, so once it is stored every earlier one has been decided.
              const events = [...types, "export.failed"].map((type) => eventOf(type, user.userId, ++seq))
              await publish(servers().amqpUrl, exchange, events.map((event) => ({ routingKey: event.type, body: JSON.stringify(event), messageId: event.id })))
              const stored = await eventually(
                () => request(url, "/api/notifications?limit=100", { token: user.token }),
                (r) => (field(r.body, "items") as Array<unknown>).some((n) => text(n, "body").includes(`failure ${seq}`)),
                10_000
              )
              // Earlier runs' notifications were archived: the inbox holds this run's, newest first.
              const kept = (field(stored.body, "items") as Array<unknown>).map((n) => text(n, "type")).reverse()
              expect(kept).toEqual(events.map((event) => event.type).filter((type) => expectedInApp(preferences, type)))
              // Clean slate for the next run.
              await request(url, "/api/notifications/archive-all", { method: "POST", token: user.token })
            }),
            { numRuns: 25 }
          )
        )
        console.log(`${runs} runs of random preferences and 2..9 events`)
      }), { timeout: 180_000 })
  })
})
