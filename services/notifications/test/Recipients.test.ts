import { describe, expect, it } from "@effect/vitest"
import { Comment } from "@herald/domain/Comment"
import type { DomainEvent, TaskAudience } from "@herald/domain/Events"
import { CommentId, EventId, ProjectId, TaskId, ulidAt, UserId } from "@herald/domain/Ids"
import type { ProjectRole } from "@herald/domain/Member"
import { defaultPreferences } from "@herald/domain/Preferences"
import { Task, type TaskStatus } from "@herald/domain/Task"
import * as MemoryStore from "@herald/infra/MemoryStore"
import * as Realtime from "@herald/infra/Realtime"
import { Effect, FastCheck as fc, Layer, Schema } from "effect"
import { EmailOutbox } from "../src/EmailOutbox.ts"
import { NotificationRepo } from "../src/NotificationRepo.ts"
import { Memberships } from "../src/Memberships.ts"
import { Notifier } from "../src/Notifier.ts"
import { RecipientPreferences } from "../src/Preferences.ts"

const people = Array.from({ length: 5 }, (_, i) => Schema.decodeSync(UserId)(`usr_${ulidAt(1_000 + i)}`))
const person = (index: number) => people[index] ?? people[0] ?? Schema.decodeSync(UserId)(`usr_${ulidAt(0)}`)
const owner = person(0)
const projectId = Schema.decodeSync(ProjectId)(`prj_${ulidAt(1)}`)
const taskId = Schema.decodeSync(TaskId)(`tsk_${ulidAt(2)}`)
const at = new Date("2030-01-01T00:00:00.000Z")

type Op =
  | { readonly kind: "add"; readonly who: number; readonly role: "editor" | "viewer" }
  | { readonly kind: "remove"; readonly who: number }
  | { readonly kind: "assign"; readonly actor: number; readonly who: number | null }
  | { readonly kind: "watch"; readonly who: number; readonly on: boolean }
  | { readonly kind: "comment"; readonly actor: number; readonly mentions: ReadonlyArray<number> }
  | { readonly kind: "move"; readonly actor: number; readonly status: TaskStatus }

const who = fc.integer({ min: 0, max: people.length - 1 })
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("add" as const), who, role: fc.constantFrom("editor" as const, "viewer" as const) }),
  fc.record({ kind: fc.constant("remove" as const), who }),
  fc.record({ kind: fc.constant("assign" as const), actor: who, who: fc.option(who, { nil: null }) }),
  fc.record({ kind: fc.constant("watch" as const), who, on: fc.boolean() }),
  fc.record({ kind: fc.constant("comment" as const), actor: who, mentions: fc.uniqueArray(who, { maxLength: 3 }) }),
  fc.record({ kind: fc.constant("move" as const), actor: who, status: fc.constantFrom<TaskStatus>("todo", "in_progress", "done") })
)

/**
 * The model: a project of `owner` with one task, the ops applied in order as the tasks service would (invalid ones
 * drop out), each event with the recipients it must have: (watchers ∪ assignee ∪ mentioned, or all members) ∩
 * members at that version − actor.
 */
const simulate = (ops: ReadonlyArray<Op>) => {
  const members = new Map<string, ProjectRole>([[owner, "owner"]])
  let projectVersion = 1
  let taskVersion = 1
  let watchers: Array<UserId> = [owner]
  let assignee: UserId | null = null
  let status: TaskStatus = "todo"
  let seq = 0
  const events: Array<{ readonly event: DomainEvent; readonly expected: ReadonlyArray<string> }> = []
  const eventId = () => Schema.decodeSync(EventId)(`evt_${ulidAt(10_000 + seq++)}`)
  const memberList = () => [...members].map(([userId, role]) => ({ userId: Schema.decodeSync(UserId)(userId), role }))
  const audience = (): TaskAudience => ({ watchers: [...watchers], memberIds: memberList().map((m) => m.userId), projectVersion })
  const task = (actor: UserId) =>
    new Task({ id: taskId, projectId, title: "T", description: "", priority: "medium", status, dueDate: null, assigneeId: assignee, watching: watchers.includes(actor), version: taskVersion, createdAt: at, updatedAt: at })
  const expectFor = (concerned: ReadonlyArray<string>, actor: string) => [...new Set(concerned)].filter((id) => members.has(id) && id !== actor).sort()
  const envelope = (aggregateId: string, aggregateVersion: number, userId: UserId) =>
    ({ id: eventId(), schemaVersion: 1 as const, occurredAt: at, aggregateId, aggregateVersion, userId, actorName: "A" })
  for (const step of ops) {
    if (step.kind === "add" || step.kind === "remove") {
      const target = person(step.who)
      if (step.kind === "add" ? members.has(target) : !members.has(target) || target === owner) continue
      const role = members.get(target) ?? "viewer"
      if (step.kind === "add") members.set(target, step.role)
      else members.delete(target)
      projectVersion += 1
      const data = { projectId, name: "P", members: memberList(), member: { userId: target, role: step.kind === "add" ? step.role : role, name: "M" } }
      events.push({
        event: step.kind === "add"
          ? { ...envelope(projectId, projectVersion, owner), type: "project.member_added", data }
          : { ...envelope(projectId, projectVersion, owner), type: "project.member_removed", data },
        expected: expectFor(memberList().map((m) => m.userId), owner)
      })
    } else if (step.kind === "watch") {
      const target = person(step.who)
      if (!members.has(target)) continue
      watchers = step.on ? [...new Set([...watchers, target])] : watchers.filter((id) => id !== target)
      taskVersion += 1
    } else if (step.kind === "comment") {
      const actor = person(step.actor)
      if (!members.has(actor)) continue
      watchers = [...new Set([...watchers, actor])]
      taskVersion += 1
      const mentioned = step.mentions.map(person).filter((id) => members.has(id))
      const comment = new Comment({
        id: Schema.decodeSync(CommentId)(`cmt_${ulidAt(20_000 + seq)}`),
        taskId,
        authorId: actor,
        body: "hi",
        mentions: mentioned.map((userId) => ({ text: "@x", userId, ambiguous: false })),
        createdAt: at,
        editedAt: null
      })
      events.push({
        event: {
          ...envelope(comment.id, 1, actor),
          type: "task.commented",
          data: { comment, task: { id: taskId, title: "T", projectId, assigneeId: assignee }, audience: audience() }
        },
        expected: expectFor([...watchers, ...(assignee === null ? [] : [assignee]), ...mentioned], actor)
      })
    } else {
      const actor = person(step.actor)
      if (!members.has(actor) || members.get(actor) === "viewer") continue
      const previousAssigneeId = assignee
      const previousStatus = status
      if (step.kind === "assign") {
        const target = step.who === null ? null : person(step.who)
        if (target !== null && !members.has(target)) continue
        assignee = target
        if (target !== null) watchers = [...new Set([...watchers, target])]
      } else {
        status = step.status
      }
      taskVersion += 1
      events.push({
        event: {
          ...envelope(taskId, taskVersion, actor),
          type: "task.updated",
          data: { task: task(actor), previousStatus, previousProjectId: projectId, previousAssigneeId, changes: [], audience: audience() }
        },
        expected: expectFor([...watchers, ...(assignee === null ? [] : [assignee])], actor)
      })
    }
  }
  return events
}

/** Every recipient on the default preferences (all in-app): this property is about who is told, not how. */
const defaultPreferencesForAll = Layer.succeed(
  RecipientPreferences,
  new RecipientPreferences({
    current: () => Effect.succeed({ version: 0, preferences: defaultPreferences }),
    keepInApp: (docs) => Effect.succeed([...docs])
  })
)

const system = Notifier.DefaultWithoutDependencies.pipe(
  Layer.provide(Layer.mergeAll(Memberships.Default, EmailOutbox.DefaultWithoutDependencies).pipe(Layer.provideMerge(defaultPreferencesForAll))),
  Layer.provideMerge(NotificationRepo.Default),
  Layer.provide([MemoryStore.layerMemory, Realtime.layerMemory])
)

describe("recipients", () => {
  it.effect("for random membership, assignment, watch and comment events, delivered with duplicates and late redeliveries in random batches, each event's recipients are (watchers ∪ assignee ∪ mentioned, or all members) ∩ members at that version − actor, each told once", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(op, { minLength: 1, maxLength: 40 }),
          fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 20 }),
          fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 10 }),
          async (ops, redeliveries, batchSizes) => {
            const events = simulate(ops)
            // First deliveries in order (each possibly twice in a row); then and there, some earlier event again.
            const deliveries: Array<DomainEvent> = []
            events.forEach(({ event }, index) => {
              deliveries.push(event)
              for (const [after, which] of redeliveries) {
                if (after % events.length === index) deliveries.push(events[which % (index + 1)]?.event ?? event)
              }
            })
            const stored = await Effect.runPromise(Effect.gen(function*() {
              const notifier = yield* Notifier
              const told: Array<{ readonly eventId: string; readonly userId: string }> = []
              for (let start = 0, batch = 0; start < deliveries.length; batch++) {
                const size = batchSizes[batch % batchSizes.length] ?? 1
                told.push(...(yield* notifier.handle(deliveries.slice(start, start + size))))
                start += size
              }
              return told
            }).pipe(Effect.provide(system)))
            const byEvent = new Map<string, Array<string>>()
            for (const doc of stored) byEvent.set(doc.eventId, [...(byEvent.get(doc.eventId) ?? []), doc.userId])
            for (const { event, expected } of events) {
              expect([...(byEvent.get(event.id) ?? [])].sort()).toEqual(expected)
            }
            expect(stored.length).toBe(events.reduce((total, { expected }) => total + expected.length, 0))
          }
        ),
        { numRuns: 150 }
      )
    ))
})
