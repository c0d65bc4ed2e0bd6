import { describe, expect, layer } from "@effect/vitest"
import type { TaskEvent } from "@herald/domain/Events"
import { EventId, ProjectId, TaskId, ulidAt, UserId } from "@herald/domain/Ids"
import { type TaskCounts, zeroCounts } from "@herald/domain/Project"
import { Task, type TaskStatus } from "@herald/domain/Task"
import * as MemoryStore from "@herald/infra/MemoryStore"
import type { DocumentStore } from "@herald/infra/Store"
import { mongoStore } from "@herald/testing/Env"
import { Effect, FastCheck as fc, Layer, Option, Schema } from "effect"
import { CountersProjector } from "../src/CountersProjector.ts"
import { ProjectRepo } from "../src/ProjectRepo.ts"
import { WriteLock } from "../src/WriteLock.ts"

const userId = Schema.decodeSync(UserId)(`usr_${ulidAt(0)}`)
const fresh = <A>(schema: Schema.Schema<A, string>, prefix: string) => Schema.decodeSync(schema)(`${prefix}_${ulidAt(Date.now())}`)

type Op =
  | { readonly kind: "create"; readonly task: number; readonly project: number | null; readonly status: TaskStatus }
  | { readonly kind: "update"; readonly task: number; readonly project: number | null; readonly status: TaskStatus }
  | { readonly kind: "delete"; readonly task: number }

const status = fc.constantFrom<TaskStatus>("todo", "in_progress", "done")
const project = fc.option(fc.integer({ min: 0, max: 2 }), { nil: null })
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("create" as const), task: fc.integer({ min: 0, max: 4 }), project, status }),
  fc.record({ kind: fc.constant("update" as const), task: fc.integer({ min: 0, max: 4 }), project, status }),
  fc.record({ kind: fc.constant("delete" as const), task: fc.integer({ min: 0, max: 4 }) })
)

/** Turns operations into the events the tasks service would emit (invalid ones, like updating a missing task, drop out). */
const toEvents = (ops: ReadonlyArray<Op>, taskIds: ReadonlyArray<TaskId>, projectIds: ReadonlyArray<ProjectId>) => {
  const live = new Map<number, { version: number; project: number | null; status: TaskStatus }>()
  const versions = new Map<number, number>()
  const events: Array<TaskEvent> = []
  const at = new Date("2030-01-01T00:00:00.000Z")
  for (const step of ops) {
    const current = live.get(step.task)
    const taskId = taskIds[step.task]
    if (taskId === undefined) continue
    const snapshot = (version: number, project: number | null, taskStatus: TaskStatus) =>
      new Task({
        id: taskId,
        projectId: project === null ? null : projectIds[project] ?? null,
        title: "t",
        description: "",
        priority: "medium",
        assigneeId: null,
        watching: false,
        status: taskStatus,
        dueDate: null,
        version,
        createdAt: at,
        updatedAt: at
      })
    const envelope = (version: number) => ({
      id: Schema.decodeSync(EventId)(`evt_${ulidAt(Date.now())}`),
      schemaVersion: 1 as const,
      occurredAt: at,
      aggregateId: taskId,
      aggregateVersion: version,
      userId
    })
    if (step.kind === "create" && current === undefined && !versions.has(step.task)) {
      live.set(step.task, { version: 1, project: step.project, status: step.status })
      versions.set(step.task, 1)
      events.push({ ...envelope(1), type: "task.created", data: { task: snapshot(1, step.project, step.status) } })
    } else if (step.kind === "update" && current !== undefined) {
      const version = current.version + 1
      live.set(step.task, { version, project: step.project, status: step.status })
      events.push({
        ...envelope(version),
        type: "task.updated",
        data: {
          task: snapshot(version, step.project, step.status),
          previousStatus: current.status,
          previousProjectId: current.project === null ? null : projectIds[current.project] ?? null,
          changes: ["status", "projectId"]
        }
      })
    } else if (step.kind === "delete" && current !== undefined) {
      live.delete(step.task)
      events.push({ ...envelope(current.version + 1), type: "task.deleted", data: { task: snapshot(current.version + 1, current.project, current.status) } })
    }
  }
  // The recount: what the projects hold once every task is at its last version.
  const expected = projectIds.map((): { -readonly [K in keyof TaskCounts]: number } => ({ ...zeroCounts }))
  for (const state of live.values()) {
    const counts = state.project === null ? undefined : expected[state.project]
    if (counts !== undefined) counts[state.status] += 1
  }
  return { events, expected }
}

const Projector = (store: Layer.Layer<DocumentStore>) =>
  CountersProjector.Default.pipe(
    Layer.provideMerge(Layer.mergeAll(ProjectRepo.Default, WriteLock.Default)),
    Layer.provide(store)
  )

const name = "any creates, status changes and deletes, delivered shuffled and with duplicates, leave the counters equal to a recount"

const arbitraries = {
  ops: fc.array(op, { minLength: 1, maxLength: 30 }),
  duplicates: fc.array(fc.nat(), { maxLength: 15 }),
  seed: fc.integer()
}

const countersAgreeWithRecount = ({ duplicates, ops, seed }: {
  readonly ops: ReadonlyArray<Op>
  readonly duplicates: ReadonlyArray<number>
  readonly seed: number
}) =>
  Effect.gen(function*() {
    const projector = yield* CountersProjector
    const projects = yield* ProjectRepo
    const taskIds = Array.from({ length: 5 }, () => fresh(TaskId, "tsk"))
    const projectIds = Array.from({ length: 3 }, () => fresh(ProjectId, "prj"))
    const { events, expected } = toEvents(ops, taskIds, projectIds)
    const copies = duplicates.flatMap((n) => events.filter((_, index) => index === n % events.length))
    // A seeded shuffle: the order of delivery is arbitrary, as with redeliveries and retries.
    let state = seed
    const random = () => ((state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff)
    const delivered = [...events, ...copies]
      .map((event) => ({ event, key: random() }))
      .sort((a, b) => a.key - b.key)
      .map(({ event }) => event)
    for (const event of delivered) yield* projector.apply(event)
    const actual = yield* Effect.forEach(projectIds, (id) =>
      Effect.map(projects.counters(id), Option.match({ onNone: () => zeroCounts, onSome: (doc) => doc.counts })))
    expect(actual).toEqual(expected)
  })

describe("counters projector", () => {
  layer(Projector(MemoryStore.layerMemory))("on the in-memory store", (it) => {
    it.effect.prop(name, arbitraries, countersAgreeWithRecount, { fastCheck: { numRuns: 150 } })
  })
  layer(Projector(mongoStore("counters")), { excludeTestServices: true })("on the MongoDB-wire server", (it) => {
    it.effect.prop(name, arbitraries, countersAgreeWithRecount, { fastCheck: { numRuns: 20 } })
  })

  layer(Projector(MemoryStore.layerMemory))("crash safety", (it) => {
    it.effect("an event applied to the counters but not yet recorded as counted is not counted twice when redelivered", () =>
      Effect.gen(function*() {
        const projector = yield* CountersProjector
        const projects = yield* ProjectRepo
        const [taskId, projectId] = [fresh(TaskId, "tsk"), fresh(ProjectId, "prj")]
        const { events } = toEvents([{ kind: "create", task: 0, project: 0, status: "todo" }], [taskId], [projectId])
        const [created] = events
        if (created === undefined) return yield* Effect.dieMessage("no event")
        // The state a crash between the two writes leaves: the delta and its marker applied, the task state not.
        yield* projects.addCounts(projectId, { todo: 1 }, taskId, 1)
        yield* projector.apply(created)
        yield* projector.apply(created)
        const doc = yield* projects.counters(projectId)
        expect(Option.map(doc, (d) => [d.counts, d.pending])).toEqual(Option.some([{ todo: 1, in_progress: 0, done: 0 }, {}]))
      }))
  })
})
