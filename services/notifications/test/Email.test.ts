import { describe, expect, it } from "@effect/vitest"
import { newNotificationId, ProjectId, ulidAt, UserId } from "@herald/domain/Ids"
import { defaultPreferences, deliversInApp, type Preferences } from "@herald/domain/Preferences"
import * as Realtime from "@herald/infra/Realtime"
import { DocumentStore } from "@herald/infra/Store"
import { mongoStore } from "@herald/testing/Env"
import * as ManualClock from "@herald/testing/ManualClock"
import { Clock, ConfigProvider, Context, Effect, Exit, Layer, Option, Schema, Scope, TestClock } from "effect"
import { Digests, runDigests } from "../src/Digests.ts"
import { DigestItemDoc, EmailOutbox, type EmailRecord } from "../src/EmailOutbox.ts"
import { Memberships } from "../src/Memberships.ts"
import { newInboxState, type NotificationDoc, NotificationRepo } from "../src/NotificationRepo.ts"
import { Notifier } from "../src/Notifier.ts"
import { RecipientPreferences } from "../src/Preferences.ts"

const at = (iso: string) => Date.parse(iso)
const iso = (date: Date) => date.toISOString()
const newUser = () => Schema.decodeSync(UserId)(`usr_${ulidAt(Date.now())}`)
const newProject = () => Schema.decodeSync(ProjectId)(`prj_${ulidAt(Date.now())}`)
/** Real time for the job's fibers to finish their database work after the test clock woke them. */
const settle = (millis: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, millis)))

/** What each test user chose (the users service's answer, as the notifications service's cache gives it). */
const chosen = new Map<string, Preferences>()
const choose = (userId: UserId, preferences: Partial<Preferences>) => chosen.set(userId, { ...defaultPreferences, ...preferences })
const preferencesOf = (userId: string) => chosen.get(userId) ?? defaultPreferences
const chosenPreferences = Layer.succeed(
  RecipientPreferences,
  new RecipientPreferences({
    current: (userId) => Effect.succeed({ version: 1, preferences: preferencesOf(userId) }),
    keepInApp: (docs) => Effect.succeed(docs.filter((doc) => deliversInApp(preferencesOf(doc.userId), doc.type)))
  })
)

/** One copy of the notifications service's delivery path and digest composer, on a shared database. */
const copy = (store: Context.Context<DocumentStore>) =>
  Layer.mergeAll(Notifier.DefaultWithoutDependencies, Digests.DefaultWithoutDependencies).pipe(
    Layer.provideMerge(Layer.mergeAll(Memberships.Default, NotificationRepo.Default, EmailOutbox.DefaultWithoutDependencies)),
    Layer.provideMerge(Layer.merge(chosenPreferences, Realtime.layerMemory)),
    Layer.provideMerge(Layer.succeedContext(store))
  )
/** A copy that also runs the digest job (its lease, its polling). */
const running = (store: Context.Context<DocumentStore>) => Layer.scopedDiscard(runDigests).pipe(Layer.provideMerge(copy(store)))

const database = (label: string) => Effect.map(Layer.build(mongoStore(label)), (context) => Context.pick(DocumentStore)(context))
const services = (context: Context.Context<Notifier | Digests | EmailOutbox | NotificationRepo>) => ({
  notifier: Context.get(context, Notifier),
  digests: Context.get(context, Digests),
  outbox: Context.get(context, EmailOutbox),
  repo: Context.get(context, NotificationRepo)
})
const open = (label: string) => Effect.flatMap(database(label), (store) => Effect.map(Layer.build(copy(store)), services))

/** A notification made for `userId` of event `eventId` now (the test's clock), as the Notifier makes them. */
const made = (userId: UserId, eventId: string, title: string, options: { readonly type?: string; readonly projectId?: ProjectId | null } = {}) =>
  Effect.gen(function*() {
    const _id = yield* newNotificationId
    const createdAt = new Date(yield* Clock.currentTimeMillis)
    const data = { projectId: options.projectId ?? null, taskId: `tsk_${eventId.slice(4)}` }
    return {
      _id,
      userId,
      eventId,
      type: options.type ?? "task.created",
      title,
      body: `${title}: body`,
      data,
      ...newInboxState(data),
      createdAt
    } satisfies NotificationDoc
  })

/** Most tests set the time and run the jobs themselves: see `ManualClock` for why not `TestClock`. */
const clock = ManualClock.make(0)
const onClock = <A, E, R>(test: () => Effect.Effect<A, E, R>) => () => Effect.withClock(test(), clock)

const titles = (record: EmailRecord) => record.items.map((item) => item.title)
const event = () => `evt_${ulidAt(Date.now())}`

describe("email records", () => {
  it.scopedLive("an immediate email is recorded once per (event, recipient) under redelivery; a type muted in-app is still emailed", onClock(() =>
    Effect.gen(function*() {
      yield* clock.set(at("2031-05-05T10:00:00Z"))
      const { notifier, outbox, repo } = yield* open("email-immediate")
      const [ann, bob] = [newUser(), newUser()]
      choose(bob, { types: { "task.created": { in_app: false } } })
      const project = newProject()
      const id = event()
      yield* notifier.deliver([yield* made(ann, id, "New task", { projectId: project }), yield* made(bob, id, "New task", { projectId: project })])
      yield* clock.set(at("2031-05-05T10:01:00Z"))
      yield* notifier.deliver([yield* made(ann, id, "New task", { projectId: project }), yield* made(bob, id, "New task", { projectId: project })])
      for (const user of [ann, bob]) {
        const records = yield* outbox.ofUser(user)
        expect(records.map((record) => [record.kind, record.subject, record.text, iso(record.sendAt), record.status])).toEqual([
          ["notification", "New task", "New task: body", "2031-05-05T10:00:00.000Z", "ready"]
        ])
        expect(records[0]?.items).toEqual([{
          type: "task.created",
          title: "New task",
          body: "New task: body",
          projectId: project,
          taskId: `tsk_${id.slice(4)}`,
          createdAt: new Date(at("2031-05-05T10:00:00Z"))
        }])
      }
      expect([yield* repo.count({ userId: ann }), yield* repo.count({ userId: bob })]).toEqual([1, 0])
    })))

  it.scopedLive("email off, or the type's email switch off (critical types too), records nothing, at once or in a digest", onClock(() =>
    Effect.gen(function*() {
      yield* clock.set(at("2031-05-05T10:00:00Z"))
      const { digests, notifier, outbox } = yield* open("email-off")
      const [carol, dave, erin] = [newUser(), newUser(), newUser()]
      choose(carol, { channels: { in_app: true, email: false, webhook: true } })
      choose(dave, { types: { "task.created": { email: false }, "export.failed": { email: false } } })
      choose(erin, { types: { "task.created": { email: false } }, digest: { email: "hourly" } })
      const types = ["task.created", "export.failed", "task.updated", "security.session_revoked"]
      for (const type of types) {
        yield* notifier.deliver(yield* Effect.forEach([carol, dave, erin], (user) => made(user, event(), type, { type })))
      }
      expect(yield* outbox.ofUser(carol)).toEqual([])
      // Made at one instant: compared as sets.
      expect((yield* outbox.ofUser(dave)).map((record) => record.items[0]?.type).sort()).toEqual(["security.session_revoked", "task.updated"])
      expect((yield* outbox.itemsOf(erin)).map((doc) => doc.item.type).sort()).toEqual(["export.failed", "security.session_revoked", "task.updated"])
      yield* clock.set(at("2031-05-05T11:00:00Z"))
      yield* digests.composeDue
      expect((yield* outbox.ofUser(erin)).map((record) => titles(record).sort())).toEqual([["export.failed", "security.session_revoked", "task.updated"]])
    })))

  it.scopedLive("quiet hours hold an immediate email to their end: across midnight, and on daylight-saving nights in Paris and New York", onClock(() =>
    Effect.gen(function*() {
      const store = yield* database("email-quiet")
      const [fiona, george] = [newUser(), newUser()]
      choose(fiona, { quietHours: { start: "22:00", end: "07:00", timeZone: "Europe/Paris" } })
      choose(george, { quietHours: { start: "23:00", end: "06:30", timeZone: "America/New_York" } })
      const cases = [
        [fiona, "2031-03-29T22:30:00Z", "2031-03-30T05:00:00.000Z"], // 23:30 CET; 07:00 CEST
        [fiona, "2031-10-25T21:00:00Z", "2031-10-26T06:00:00.000Z"], // 23:00 CEST; 07:00 CET
        [fiona, "2031-06-02T04:59:00Z", "2031-06-02T05:00:00.000Z"], // 06:59 CEST
        [fiona, "2031-10-26T12:00:00Z", "2031-10-26T12:00:00.000Z"], // not quiet
        [george, "2031-11-02T03:00:00Z", "2031-11-02T11:30:00.000Z"], // 23:00 EDT; 06:30 EST
        [george, "2031-03-09T04:30:00Z", "2031-03-09T10:30:00.000Z"] // 23:30 EST; 06:30 EDT
      ] as const
      // A copy per instant, started after the clock is set.
      for (const [user, now, until] of cases) {
        yield* clock.set(at(now))
        const scope = yield* Scope.make()
        const { notifier, outbox } = services(yield* Scope.extend(Layer.build(copy(store)), scope))
        const id = event()
        yield* notifier.deliver([yield* made(user, id, until)])
        const recorded = yield* outbox.find(`notification:${id}:${user}`)
        expect(Option.map(recorded, (record) => iso(record.sendAt))).toEqual(Option.some(until))
        yield* Scope.close(scope, Exit.void)
      }
    })))
})

describe("digests", () => {
  it.scopedLive("several events in an hour make one digest at the window's end: grouped by project, newest first, with counts", onClock(() =>
    Effect.gen(function*() {
      yield* clock.set(at("2031-05-05T10:00:00Z"))
      const { digests, notifier, outbox } = yield* open("email-hourly")
      const hannah = newUser()
      choose(hannah, { digest: { email: "hourly" } })
      const [red, blue] = [newProject(), newProject()]
      const steps = [["10:05", "a", red], ["10:20", "b", blue], ["10:30", "c", red], ["10:45", "d", null], ["10:50", "e", blue]] as const
      const ids: Array<string> = []
      for (const [time, title, projectId] of steps) {
        yield* clock.set(at(`2031-05-05T${time}:00Z`))
        const id = event()
        ids.push(id)
        yield* notifier.deliver([yield* made(hannah, id, title, { projectId })])
      }
      yield* clock.set(at("2031-05-05T10:59:59Z"))
      expect(yield* digests.composeDue).toBe(0)
      yield* clock.set(at("2031-05-05T11:00:00Z"))
      expect(yield* digests.composeDue).toBe(1)
      const [digest, ...others] = yield* outbox.ofUser(hannah)
      expect(others).toEqual([])
      expect(digest?.kind).toBe("digest")
      expect(digest && iso(digest.sendAt)).toBe("2031-05-05T11:00:00.000Z")
      expect(digest?.subject).toBe("Herald digest: 5 notifications in 3 groups")
      expect(digest && titles(digest)).toEqual(["e", "b", "d", "c", "a"])
      expect(digest?.text.split("\n")).toEqual([
        "5 notifications from 2031-05-05T10:00:00.000Z to 2031-05-05T11:00:00.000Z",
        "",
        `Project ${blue}: 2 notifications`,
        "- 2031-05-05T10:50:00.000Z e: e: body",
        "- 2031-05-05T10:20:00.000Z b: b: body",
        "",
        "Not in a project: 1 notification",
        "- 2031-05-05T10:45:00.000Z d: d: body",
        "",
        `Project ${red}: 2 notifications`,
        "- 2031-05-05T10:30:00.000Z c: c: body",
        "- 2031-05-05T10:05:00.000Z a: a: body"
      ])
      // Composed once: again, and after a redelivery of the first event, nothing more.
      expect(yield* digests.composeDue).toBe(0)
      yield* notifier.deliver([yield* made(hannah, ids[0] ?? "", "a", { projectId: red })])
      expect(yield* digests.composeDue).toBe(0)
      expect((yield* outbox.ofUser(hannah)).length).toBe(1)
      expect((yield* outbox.itemsOf(hannah)).map((doc) => doc.digestId)).toEqual(Array(5).fill(digest?._id))
    })))

  it.scopedLive("a daily digest covers the calendar day in the quiet hours' zone (25 hours in Paris on 2031-10-26) and waits for their end", onClock(() =>
    Effect.gen(function*() {
      yield* clock.set(at("2031-10-25T21:00:00Z"))
      const { digests, notifier, outbox } = yield* open("email-daily")
      const ivy = newUser()
      choose(ivy, { digest: { email: "daily" }, quietHours: { start: "22:00", end: "07:00", timeZone: "Europe/Paris" } })
      for (const [now, title] of [["2031-10-25T22:00:00Z", "first"], ["2031-10-26T21:30:00Z", "last"]]) {
        yield* clock.set(at(now ?? ""))
        yield* notifier.deliver([yield* made(ivy, event(), title ?? "")])
      }
      yield* clock.set(at("2031-10-26T22:59:59Z"))
      expect(yield* digests.composeDue).toBe(0)
      yield* clock.set(at("2031-10-26T23:00:00Z"))
      expect(yield* digests.composeDue).toBe(1)
      const digests_ = yield* outbox.ofUser(ivy)
      // Midnight CET falls inside 22:00-07:00: the digest goes at 07:00 CET.
      expect(digests_.map((record) => [titles(record), iso(record.sendAt)])).toEqual([[["last", "first"], "2031-10-27T06:00:00.000Z"]])
    })))

  it.scoped("exactly once across a restart in the middle of the window, with two copies of the job running", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(at("2031-05-05T10:10:00Z"))
      const store = yield* database("email-restart")
      const start = Effect.gen(function*() {
        const scope = yield* Scope.make()
        const context = yield* Scope.extend(Layer.build(running(store)), scope)
        return { scope, ...services(context) }
      })
      const [jack, kim] = [newUser(), newUser()]
      choose(jack, { digest: { email: "hourly" } })
      choose(kim, { digest: { email: "hourly" } })
      yield* TestClock.setTime(at("2031-05-05T10:10:00Z"))
      const first = yield* start
      const second = yield* start
      for (const user of [jack, kim]) {
        yield* first.notifier.deliver(yield* Effect.forEach(["one", "two"], (title) => made(user, event(), title, { projectId: newProject() })))
      }
      // The first copy (holding the lease) stops; another starts and records the rest of the window.
      yield* Scope.close(first.scope, Exit.void)
      const third = yield* start
      yield* TestClock.setTime(at("2031-05-05T10:40:00Z"))
      yield* settle(100)
      yield* third.notifier.deliver([yield* made(jack, event(), "three")])
      yield* TestClock.setTime(at("2031-05-05T11:00:00Z"))
      let rounds = 0
      const composed = () => Effect.map(Effect.all([third.outbox.ofUser(jack), third.outbox.ofUser(kim)]), (all) => all.flat())
      while ((yield* composed()).length < 2 && rounds++ < 40) {
        yield* TestClock.adjust("5 seconds")
        yield* settle(100)
      }
      // More rounds of both copies find nothing more to do.
      for (let more = 0; more < 12; more++) {
        yield* TestClock.adjust("5 seconds")
        yield* settle(50)
      }
      const records = yield* composed()
      expect(records.map((record) => [record.userId, record.kind, titles(record).sort()])).toEqual([
        [jack, "digest", ["one", "three", "two"]],
        [kim, "digest", ["one", "two"]]
      ])
      expect(records.map((record) => iso(record.sendAt))).toEqual(["2031-05-05T11:00:00.000Z", "2031-05-05T11:00:00.000Z"])
      yield* Scope.close(second.scope, Exit.void)
      yield* Scope.close(third.scope, Exit.void)
    }).pipe(Effect.withConfigProvider(ConfigProvider.fromJson({ EMAIL_DIGEST_INTERVAL: "5 seconds" }))))

  it.scopedLive("two composers racing over the same windows, and a compose repeated after a crash before its items were marked, record each digest once", onClock(() =>
    Effect.gen(function*() {
      yield* clock.set(at("2031-05-05T10:30:00Z"))
      const store = yield* database("email-race")
      const one = services(yield* Layer.build(copy(store)))
      const two = services(yield* Layer.build(copy(store)))
      const users = Array.from({ length: 12 }, newUser)
      for (const user of users) choose(user, { digest: { email: "hourly" } })
      for (const user of users) {
        yield* one.notifier.deliver(yield* Effect.forEach(["x", "y", "z"], (title) => made(user, event(), title)))
      }
      yield* clock.set(at("2031-05-05T11:00:00Z"))
      const counts = yield* Effect.all([one.digests.composeDue, two.digests.composeDue], { concurrency: 2 })
      expect(counts[0] + counts[1]).toBe(users.length)
      const { outbox } = one
      const check = Effect.forEach(users, (user) =>
        Effect.gen(function*() {
          const records = yield* outbox.ofUser(user)
          expect(records.map((record) => titles(record).sort())).toEqual([["x", "y", "z"]])
          expect((yield* outbox.itemsOf(user)).map((doc) => doc.digestId)).toEqual(Array(3).fill(records[0]?._id))
        }))
      yield* check
      // A copy that recorded the digests and stopped before marking their items: the next compose only marks them.
      const items = yield* store.pipe(Context.get(DocumentStore)).collection({ name: "email_digest_items", schema: DigestItemDoc, indexes: [] })
      expect(yield* items.updateMany({}, { $set: { digestId: null } })).toBe(users.length * 3)
      expect(yield* two.digests.composeDue).toBe(0)
      yield* check
    })))

  it.scopedLive("an item recorded after its window was composed is not lost: a follow-up digest lists it alone", onClock(() =>
    Effect.gen(function*() {
      yield* clock.set(at("2031-05-05T10:30:00Z"))
      const { digests, notifier, outbox } = yield* open("email-late")
      const liam = newUser()
      choose(liam, { digest: { email: "hourly" } })
      yield* clock.set(at("2031-05-05T10:30:00Z"))
      const early = event()
      yield* notifier.deliver([yield* made(liam, early, "a"), yield* made(liam, event(), "b")])
      yield* clock.set(at("2031-05-05T11:00:00Z"))
      expect(yield* digests.composeDue).toBe(1)
      // A slow consumer read the clock just before the window closed and writes after it was composed.
      yield* clock.set(at("2031-05-05T10:59:59Z"))
      yield* notifier.deliver([yield* made(liam, event(), "late"), yield* made(liam, early, "a")])
      yield* clock.set(at("2031-05-05T11:00:30Z"))
      expect(yield* digests.composeDue).toBe(1)
      expect(yield* digests.composeDue).toBe(0)
      const records = yield* outbox.ofUser(liam)
      expect(records.map((record) => [record._id.split(":").at(-1), titles(record).sort()])).toEqual([["1", ["a", "b"]], ["2", ["late"]]])
    })))
})
