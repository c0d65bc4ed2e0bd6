import { describe, expect, it } from "@effect/vitest"
import type { DomainEvent } from "@herald/domain/Events"
import { EventId, ProjectId, TaskId, ulidAt, UserId } from "@herald/domain/Ids"
import { defaultPreferences } from "@herald/domain/Preferences"
import { Task, type TaskStatus } from "@herald/domain/Task"
import * as Realtime from "@herald/infra/Realtime"
import { DocumentStore } from "@herald/infra/Store"
import { mongoStore } from "@herald/testing/Env"
import * as ManualClock from "@herald/testing/ManualClock"
import { eventually, field, request, signUp, teammateOf, text } from "@herald/testing/Http"
import * as System from "@herald/testing/System"
import { ConfigProvider, Context, Effect, Exit, Layer, Schedule, Schema, Scope, TestClock } from "effect"
import { DueFiredDoc, DueReminders, DueTaskDoc, DueTimerDoc } from "../src/DueReminders.ts"
import { runDueScheduler } from "../src/DueScheduler.ts"
import { Memberships } from "../src/Memberships.ts"
import { NotificationRepo } from "../src/NotificationRepo.ts"
import { EmailOutbox } from "../src/EmailOutbox.ts"
import { Notifier } from "../src/Notifier.ts"
import { RecipientPreferences } from "../src/Preferences.ts"

const hour = 60 * 60 * 1000
const start = new Date("2031-06-01T09:00:00.000Z").getTime()
const user = (n: number) => Schema.decodeSync(UserId)(`usr_${ulidAt(1_000 + n)}`)
const owner = user(0)
const assignee = user(1)
const watcher = user(2)
const leaver = user(3)
const outsider = user(4)
const loner = user(5)
const projectId = Schema.decodeSync(ProjectId)(`prj_${ulidAt(1)}`)
const taskIds = Array.from({ length: 40 }, (_, n) => Schema.decodeSync(TaskId)(`tsk_${ulidAt(100 + n)}`))
const taskIdOf = (n: number) => taskIds[n] ?? Schema.decodeSync(TaskId)(`tsk_${ulidAt(0)}`)
let seq = 0
const eventId = () => Schema.decodeSync(EventId)(`evt_${ulidAt(50_000 + seq++)}`)
const settle = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 300)))

/** A task as its events carry it: in the project (owner, assignee, watcher, leaver are members) unless `private`. */
interface TaskState {
  readonly n: number
  readonly version: number
  readonly dueInHours: number | null
  readonly status?: TaskStatus
  readonly private?: boolean
  readonly title?: string
  /** Who watches it (a project task), when not the default four. */
  readonly watchers?: ReadonlyArray<UserId>
}

const taskEvent = (type: "task.created" | "task.updated" | "task.deleted" | "task.watchers_changed", state: TaskState): DomainEvent => {
  const at = new Date(start)
  const isPrivate = state.private === true
  const task = new Task({
    id: taskIdOf(state.n),
    projectId: isPrivate ? null : projectId,
    title: state.title ?? `Task ${state.n}`,
    description: "",
    priority: "medium",
    status: state.status ?? "todo",
    dueDate: state.dueInHours === null ? null : new Date(start + state.dueInHours * hour),
    assigneeId: isPrivate ? null : assignee,
    watching: true,
    version: state.version,
    createdAt: at,
    updatedAt: at
  })
  const audience = isPrivate
    ? { watchers: [loner], memberIds: [loner], projectVersion: null }
    : { watchers: state.watchers ?? [owner, assignee, watcher, leaver, outsider], memberIds: [owner, assignee, watcher, leaver], projectVersion: 2 }
  const envelope = {
    id: eventId(),
    schemaVersion: 1 as const,
    occurredAt: at,
    aggregateId: task.id,
    aggregateVersion: state.version,
    userId: isPrivate ? loner : owner,
    actorName: "Ada"
  }
  if (type === "task.updated") {
    return { ...envelope, type, data: { task, previousStatus: "todo", previousProjectId: task.projectId, previousAssigneeId: task.assigneeId, changes: ["dueDate"], audience } }
  }
  if (type === "task.watchers_changed") return { ...envelope, type, data: { task, audience } }
  return type === "task.created" ? { ...envelope, type, data: { task, audience } } : { ...envelope, type, data: { task, audience } }
}

/** The leaver leaves the project (version 3), after the tasks' events were made at version 2. */
const leaverLeaves: DomainEvent = {
  id: eventId(),
  type: "project.member_removed",
  schemaVersion: 1,
  occurredAt: new Date(start),
  aggregateId: projectId,
  aggregateVersion: 3,
  userId: leaver,
  actorName: "Lee",
  data: {
    projectId,
    name: "P",
    members: [{ userId: owner, role: "owner" }, { userId: assignee, role: "editor" }, { userId: watcher, role: "viewer" }],
    member: { userId: leaver, role: "editor", name: "Lee" }
  }
}

/** Every recipient takes everything in-app: these tests are about when and to whom reminders fire, not channels. */
const everythingInApp = Layer.succeed(
  RecipientPreferences,
  new RecipientPreferences({
    current: () => Effect.succeed({ version: 0, preferences: defaultPreferences }),
    keepInApp: (docs) => Effect.succeed([...docs])
  })
)

/** One copy of the notifications service's reminder side, on a store given to it (so that two copies can share one). */
const copy = DueReminders.Default.pipe(
  Layer.provideMerge(
    Notifier.DefaultWithoutDependencies.pipe(
      Layer.provide(Layer.mergeAll(Memberships.Default, EmailOutbox.DefaultWithoutDependencies).pipe(Layer.provideMerge(everythingInApp)))
    )
  ),
  Layer.provideMerge(NotificationRepo.Default),
  Layer.provide(Realtime.layerMemory)
)

const storeOf = (label: string) => Effect.map(Layer.build(mongoStore(label)), (context) => Context.get(context, DocumentStore))

const copyOn = (store: DocumentStore["Type"]) =>
  Effect.map(Layer.build(copy.pipe(Layer.provideMerge(Layer.succeed(DocumentStore, store)))), (context) => ({
    reminders: Context.get(context, DueReminders),
    notifier: Context.get(context, Notifier),
    repo: Context.get(context, NotificationRepo),
    context
  }))

type Copy = Effect.Effect.Success<ReturnType<typeof copyOn>>

/** What the consumer does with a mailbox's events: notifications, then due timers. */
const consume = (service: Copy, events: ReadonlyArray<DomainEvent>) =>
  Effect.zipRight(service.notifier.handle(events), service.reminders.track(events))

/** The reminders in each person's inbox, as "type body" lines, oldest first. */
const remindersOf = (service: Copy, ...people: ReadonlyArray<UserId>) =>
  Effect.forEach(people, (person) =>
    Effect.map(service.repo.list(person, { limit: 100 }), (page) =>
      page.items.filter((n) => n.type === "task.due_soon" || n.type === "task.overdue").map((n) => `${n.type} ${n.body}`).reverse()))

/** The tests set the time and fire the jobs themselves: see `ManualClock` for why not `TestClock`. */
const clock = ManualClock.make(start)
const at = (hours: number) => clock.set(start + hours * hour)
const onClock = <A, E, R>(test: () => Effect.Effect<A, E, R>) => () => Effect.withClock(test(), clock)

const itemsOf = (body: unknown): ReadonlyArray<unknown> => {
  const items = field(body, "items")
  return Array.isArray(items) ? items : []
}

describe("due-date reminders", () => {
  it.scopedLive("task.due_soon at the due date less the lead and task.overdue at the due date, once each, to assignee and watchers who are members now", onClock(() =>
    Effect.gen(function*() {
      yield* at(0)
      const service = yield* copyOn(yield* storeOf("due-once"))
      yield* consume(service, [taskEvent("task.created", { n: 1, version: 1, dueInHours: 48, title: "Write the README" }), leaverLeaves])
      yield* consume(service, [taskEvent("task.created", { n: 2, version: 1, dueInHours: 60, private: true, title: "Mine" })])
      const people = [owner, assignee, watcher, leaver, outsider, loner] as const

      yield* at(24 - 1 / 3600)
      expect(yield* service.reminders.fireDue).toBe(0)
      expect((yield* remindersOf(service, ...people)).flat()).toEqual([])

      yield* at(24)
      yield* service.reminders.fireDue
      yield* service.reminders.fireDue
      const soon = "task.due_soon 'Write the README' is due in 24 hours"
      expect(yield* remindersOf(service, ...people)).toEqual([[soon], [soon], [soon], [], [], []])

      for (const hours of [36, 48, 60, 100]) {
        yield* at(hours)
        yield* service.reminders.fireDue
      }
      const both = [soon, "task.overdue 'Write the README' is overdue"]
      const mine = ["task.due_soon 'Mine' is due in 24 hours", "task.overdue 'Mine' is overdue"]
      expect(yield* remindersOf(service, ...people)).toEqual([both, both, both, [], [], mine])
      expect(yield* service.reminders.pending).toEqual([])

      const [overdue] = (yield* service.repo.list(assignee, { limit: 1 })).items
      expect(overdue?.data).toEqual({ actor: null, projectId, taskId: taskIdOf(1), dueDate: new Date(start + 48 * hour).toISOString() })
      expect(overdue?.actor).toBeNull()
    })))

  it.scopedLive("a task created or changed already inside the lead gets its task.due_soon at once; one created past its due date only task.overdue", onClock(() =>
    Effect.gen(function*() {
      yield* at(0)
      const service = yield* copyOn(yield* storeOf("due-inside"))
      yield* consume(service, [taskEvent("task.created", { n: 1, version: 1, dueInHours: 3 })])
      yield* consume(service, [taskEvent("task.created", { n: 2, version: 1, dueInHours: null })])
      yield* consume(service, [taskEvent("task.updated", { n: 2, version: 2, dueInHours: 48 })])
      expect(yield* remindersOf(service, assignee)).toEqual([["task.due_soon 'Task 1' is due in 3 hours"]])

      yield* at(30)
      yield* consume(service, [taskEvent("task.updated", { n: 2, version: 3, dueInHours: 40 })])
      expect(yield* remindersOf(service, assignee)).toEqual([["task.due_soon 'Task 1' is due in 3 hours", "task.due_soon 'Task 2' is due in 10 hours"]])

      yield* consume(service, [taskEvent("task.created", { n: 3, version: 1, dueInHours: 29, private: true })])
      expect(yield* remindersOf(service, loner)).toEqual([["task.overdue 'Task 3' is overdue"]])
    })))

  it.scopedLive("a new due date fires only for the new date; clearing it, finishing or deleting the task cancels", onClock(() =>
    Effect.gen(function*() {
      yield* at(0)
      const service = yield* copyOn(yield* storeOf("due-reschedule"))
      yield* consume(service, [1, 2, 3, 4].map((n) => taskEvent("task.created", { n, version: 1, dueInHours: 48 })))
      yield* consume(service, [
        taskEvent("task.updated", { n: 1, version: 2, dueInHours: 72 }),
        taskEvent("task.updated", { n: 2, version: 2, dueInHours: null }),
        taskEvent("task.updated", { n: 3, version: 2, dueInHours: 48, status: "done" }),
        taskEvent("task.deleted", { n: 4, version: 2, dueInHours: 48 })
      ])
      for (const hours of [24, 48, 72, 200]) {
        yield* at(hours)
        yield* service.reminders.fireDue
      }
      const timesOf = Effect.map(service.repo.list(assignee, { limit: 100 }), (page) =>
        page.items.filter((n) => n.type.startsWith("task.due") || n.type === "task.overdue").map((n) => `${n.type} ${String(n.data.taskId === taskIdOf(1))} ${String(n.data.dueDate)} ${n.createdAt.toISOString()}`).reverse())
      const newDate = new Date(start + 72 * hour).toISOString()
      expect(yield* timesOf).toEqual([
        `task.due_soon true ${newDate} ${new Date(start + 48 * hour).toISOString()}`,
        `task.overdue true ${newDate} ${new Date(start + 72 * hour).toISOString()}`
      ])
      expect(yield* service.reminders.pending).toEqual([])

      // A task finished before its due date and opened again after it: overdue at once.
      yield* consume(service, [taskEvent("task.updated", { n: 3, version: 3, dueInHours: 48, status: "in_progress" })])
      expect((yield* remindersOf(service, assignee))[0]).toContain("task.overdue 'Task 3' is overdue")
    })))

  it.scopedLive("redelivered and out-of-order events change nothing: the newest version of each task decides", onClock(() =>
    Effect.gen(function*() {
      yield* at(0)
      const service = yield* copyOn(yield* storeOf("due-order"))
      const created = taskEvent("task.created", { n: 1, version: 1, dueInHours: 48 })
      const moved = taskEvent("task.updated", { n: 1, version: 2, dueInHours: 72 })
      const done = taskEvent("task.updated", { n: 1, version: 3, dueInHours: 72, status: "done" })
      yield* consume(service, [created, done])
      yield* consume(service, [moved, created])
      yield* consume(service, [done, moved])
      expect(yield* service.reminders.pending).toEqual([])

      const other = taskEvent("task.created", { n: 2, version: 1, dueInHours: 30 })
      const otherMoved = taskEvent("task.updated", { n: 2, version: 2, dueInHours: 20 })
      yield* consume(service, [otherMoved, other, otherMoved])
      expect((yield* service.reminders.pending).map((timer) => `${timer.kind} ${timer.version}`)).toEqual(["overdue 2"])
      yield* at(100)
      yield* service.reminders.fireDue
      yield* consume(service, [other, otherMoved])
      yield* service.reminders.fireDue
      expect(yield* remindersOf(service, assignee)).toEqual([["task.due_soon 'Task 2' is due in 20 hours", "task.overdue 'Task 2' is overdue"]])
    })))

  it.scopedLive("who watches when it fires is reminded: a watcher who joined after the task's last change is, one who left is not", onClock(() =>
    Effect.gen(function*() {
      yield* at(0)
      const service = yield* copyOn(yield* storeOf("due-watchers"))
      yield* consume(service, [taskEvent("task.created", { n: 1, version: 1, dueInHours: 48, watchers: [owner, watcher] })])
      yield* consume(service, [taskEvent("task.watchers_changed", { n: 1, version: 2, dueInHours: 48, watchers: [owner, leaver] })])
      for (const hours of [24, 48]) {
        yield* at(hours)
        yield* service.reminders.fireDue
      }
      const both = ["task.due_soon 'Task 1' is due in 24 hours", "task.overdue 'Task 1' is overdue"]
      // The assignee always; the leaver (a member here) since watching; the watcher no longer.
      expect(yield* remindersOf(service, owner, assignee, watcher, leaver)).toEqual([both, both, [], both])
      // A change of watchers tells nobody.
      expect(yield* service.repo.count({ type: "task.watchers_changed" })).toBe(0)
    })))

  it.scopedLive("a timer that a newer event replaced never fires, even when its deletion was lost (a crash, or a race of two mailboxes)", onClock(() =>
    Effect.gen(function*() {
      yield* at(0)
      const store = yield* storeOf("due-superseded")
      const service = yield* copyOn(store)
      yield* consume(service, [taskEvent("task.created", { n: 1, version: 1, dueInHours: 48 })])
      const replaced = yield* service.reminders.pending
      yield* consume(service, [taskEvent("task.updated", { n: 1, version: 2, dueInHours: 72 })])
      const timers = yield* store.collection({ name: "due_timers", schema: DueTimerDoc, indexes: [] })
      yield* timers.insertMany(replaced)
      for (const hours of [24, 48, 72]) {
        yield* at(hours)
        yield* service.reminders.fireDue
      }
      expect(yield* remindersOf(service, assignee)).toEqual([["task.due_soon 'Task 1' is due in 24 hours", "task.overdue 'Task 1' is overdue"]])
      const [overdue] = (yield* service.repo.list(assignee, { limit: 1 })).items
      expect(overdue?.data.dueDate).toBe(new Date(start + 72 * hour).toISOString())
      expect(yield* service.reminders.pending).toEqual([])
    })))

  it.scopedLive("two copies of the scheduler, on one database, fire each reminder exactly once", onClock(() =>
    Effect.gen(function*() {
      yield* at(0)
      const store = yield* storeOf("due-two")
      const [first, second] = [yield* copyOn(store), yield* copyOn(store)]
      // Due between 124 and 126 hours from now: every task.due_soon falls due by 103 hours, every task.overdue by 126.
      const tasks = Array.from({ length: 20 }, (_, n) => taskEvent("task.created", { n, version: 1, dueInHours: 124 + n / 10 }))
      yield* consume(first, tasks.slice(0, 10))
      yield* consume(second, tasks.slice(10))
      for (const hours of [110, 200]) {
        // Both copies' schedulers start (each fires at once if it holds the lease), and meanwhile four rounds are forced.
        yield* at(hours)
        const running = yield* Scope.make()
        yield* Effect.forEach([first, second], (service) => Scope.extend(Effect.provide(runDueScheduler, service.context), running), {
          concurrency: 2,
          discard: true
        })
        yield* Effect.all([first.reminders.fireDue, second.reminders.fireDue, first.reminders.fireDue, second.reminders.fireDue], { concurrency: 4 })
        yield* settle
        yield* Scope.close(running, Exit.void)
      }
      // The leaver has not left in this test: four members hear of each task; the outsider (not a member) never.
      const inboxes = yield* remindersOf(first, owner, assignee, watcher, leaver, outsider)
      expect(inboxes.map((inbox) => inbox.length)).toEqual([40, 40, 40, 40, 0])
      for (const inbox of inboxes) expect(new Set(inbox).size).toBe(inbox.length)
      expect(yield* first.repo.count({ type: "task.due_soon" })).toBe(80)
      expect(yield* first.repo.count({ type: "task.overdue" })).toBe(80)
      expect(yield* first.reminders.pending).toEqual([])
    })))

  it.scopedLive("a scheduler that was down fires on its return what fell due meanwhile (a due_soon past its due date gives way to overdue)", onClock(() =>
    Effect.gen(function*() {
      yield* at(0)
      const store = yield* storeOf("due-catchup")
      const service = yield* copyOn(store)
      yield* consume(service, [
        taskEvent("task.created", { n: 1, version: 1, dueInHours: 48 }),
        taskEvent("task.created", { n: 2, version: 1, dueInHours: 30 })
      ])
      const running = yield* Scope.make()
      yield* Scope.extend(Effect.provide(runDueScheduler, service.context), running)
      yield* settle
      yield* Scope.close(running, Exit.void)

      yield* at(36)
      yield* settle
      expect((yield* remindersOf(service, assignee))[0]).toEqual([])
      const back = yield* copyOn(store)
      yield* Effect.provide(runDueScheduler, back.context)
      yield* remindersOf(service, assignee).pipe(
        Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: ([inbox]) => (inbox?.length ?? 0) >= 2 }),
        Effect.timeout("10 seconds")
      )
      yield* settle
      // Both fire in the same millisecond: their order in the inbox is not defined.
      expect((yield* remindersOf(service, assignee))[0]?.sort()).toEqual([
        "task.due_soon 'Task 1' is due in 12 hours",
        "task.overdue 'Task 2' is overdue"
      ])
      expect((yield* service.reminders.pending).map((timer) => `${timer.taskId === taskIdOf(1)} ${timer.kind}`)).toEqual(["true overdue"])
      // Polls every 10 ms: a scheduler still running while "down" would have fired within the settle above.
    }).pipe(Effect.withConfigProvider(ConfigProvider.fromJson({ DUE_REMINDER_POLL: "10 millis" })))))
})

describe("due-date reminders' bookkeeping", () => {
  // On TestClock: FerretDB keeps no TTL index, and its leased sweeps run every minute of the test clock's walk.
  it.scoped("claims go NOTIFICATION_RETENTION after their firing, a task's marker that long after its last event or timer", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const store = yield* storeOf("due-retention")
      const service = yield* copyOn(store)
      const claims = yield* store.collection({ name: "due_firings", schema: DueFiredDoc, indexes: [] })
      const markers = yield* store.collection({ name: "due_tasks", schema: DueTaskDoc, indexes: [] })
      const left = Effect.all([
        Effect.map(claims.find({}), (docs) => docs.map((doc) => doc._id.split(":").pop()).sort()),
        Effect.map(markers.find({}), (docs) => docs.length)
      ])
      // Due in 15 minutes: its due_soon fires at once, its overdue at +15; kept 30 minutes each, the marker to +45.
      yield* consume(service, [taskEvent("task.created", { n: 1, version: 1, dueInHours: 0.25 })])
      yield* TestClock.adjust("20 minutes")
      expect(yield* service.reminders.fireDue).toBe(1)
      expect((yield* remindersOf(service, assignee))[0]?.map((line) => line.split(" ")[0])).toEqual(["task.due_soon", "task.overdue"])
      expect(yield* left).toEqual([["due_soon", "overdue"], 1])
      yield* TestClock.adjust("20 minutes")
      yield* settle
      expect(yield* left).toEqual([["overdue"], 1])
      // At +50 the overdue claim is exactly 30 minutes old: kept until the sweep after.
      yield* TestClock.adjust("11 minutes")
      yield* settle
      expect(yield* left).toEqual([[], 0])
    }).pipe(Effect.withConfigProvider(ConfigProvider.fromJson({ NOTIFICATION_RETENTION: "30 minutes" }))), { timeout: 120_000 })
})

describe("due-date reminders through the running system", () => {
  for (const embedded of [false, true]) {
    it.live(`a task created over HTTP due within the lead: its assignee's inbox has task.due_soon (${embedded ? "embedded in-memory twins" : "real servers"})`, () =>
      Effect.gen(function*() {
        const { url } = Context.get(yield* Layer.build(System.layer("due-e2e", { embedded })), System.TestSystem)
        const user = yield* Effect.promise(() => signUp(url, "due"))
        const { mate, projectId: project } = yield* Effect.promise(() => teammateOf(url, user))
        const dueDate = new Date(Date.now() + 2 * hour).toISOString()
        const created = yield* Effect.promise(() =>
          request(url, "/api/tasks", { token: mate.token, body: { title: "Ship it", projectId: project, assigneeId: user.userId, dueDate } }))
        expect(created.status).toBe(201)
        const inbox = yield* Effect.promise(() =>
          eventually(() => request(url, "/api/notifications?type=task.due_soon", { token: user.token }), (reply) => itemsOf(reply.body).length > 0))
        const [reminder] = itemsOf(inbox.body)
        expect(text(reminder, "body")).toBe("'Ship it' is due in 2 hours")
        expect(field(reminder, "data", "dueDate")).toBe(dueDate)
      }).pipe(Effect.scoped))
  }

  it.live("a member who starts watching a task over HTTP is told when it falls overdue", () =>
    Effect.gen(function*() {
      const { url } = Context.get(yield* Layer.build(System.layer("due-watch", { env: { DUE_REMINDER_POLL: "100 millis" } })), System.TestSystem)
      const user = yield* Effect.promise(() => signUp(url, "due-owner"))
      const { mate, projectId: project } = yield* Effect.promise(() => teammateOf(url, user))
      const follower = yield* Effect.promise(() => signUp(url, "due-follower"))
      const added = yield* Effect.promise(() =>
        request(url, `/api/projects/${project}/members`, { token: user.token, body: { email: follower.email, role: "viewer" } }))
      expect(added.status).toBe(201)
      // Far enough ahead for the watch to be tracked first on a loaded machine: a timer that fired is not fired again.
      const dueDate = new Date(Date.now() + 8_000).toISOString()
      const created = yield* Effect.promise(() =>
        request(url, "/api/tasks", { token: mate.token, body: { title: "Ship it soon", projectId: project, assigneeId: user.userId, dueDate } }))
      expect(created.status).toBe(201)
      const watched = yield* Effect.promise(() => request(url, `/api/tasks/${text(created.body, "id")}/watch`, { method: "POST", token: follower.token }))
      expect(watched.status).toBe(204)
      const inbox = yield* Effect.promise(() =>
        eventually(() => request(url, "/api/notifications?type=task.overdue", { token: follower.token }), (reply) => itemsOf(reply.body).length > 0, 30_000))
      expect(itemsOf(inbox.body).map((reminder) => text(reminder, "body"))).toEqual(["'Ship it soon' is overdue"])
    }).pipe(Effect.scoped))
})
