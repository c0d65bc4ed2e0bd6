import { describe, expect, layer, type Vitest } from "@effect/vitest"
import { encodeEvent, envelopeOf } from "@herald/domain/Events"
import { newTaskId, type TaskId, ulidAt, UserId } from "@herald/domain/Ids"
import * as MemoryStore from "@herald/infra/MemoryStore"
import type { PendingDocument } from "@herald/infra/Outbox"
import type { DocumentStore } from "@herald/infra/Store"
import { mongoStore } from "@herald/testing/Env"
import { Duration, Effect, Layer, Option, Schema } from "effect"
import { abandonAfter, handOverWindow, type TaskDoc, type TaskOutboxEntry, TaskRepo, toTask } from "../src/TaskRepo.ts"

/**
 * The tasks' outbox collection (`TaskOutboxEntry`): which entries a scan relays, which it leaves to their writer,
 * which it drops, and what settling removes. Entries are dated relative to now; the end-to-end case (writes while
 * the broker refuses, then the service killed) is in Outbox.test.ts.
 */

const userId = Schema.decodeSync(UserId)(`usr_${ulidAt(0)}`)
const notHeld = () => false
const secondsAgo = (seconds: number) => new Date(Date.now() - seconds * 1000)
const past = (window: Duration.Duration, extraSeconds: number) => secondsAgo(Duration.toSeconds(window) + extraSeconds)

/**
 * A task with `version` writes recorded in the outbox (each entry holding the events so far), of which the first
 * `named` were also written to the task (it is at that version and names them).
 */
const taskWithWrites = (options: { readonly version: number; readonly named: number; readonly createdAt: Date; readonly deleted?: boolean }) =>
  Effect.gen(function*() {
    const id = yield* newTaskId
    const base: TaskDoc = {
      _id: id,
      ownerId: userId,
      projectId: null,
      title: "t",
      description: "",
      priority: "medium",
      status: "todo",
      dueDate: null,
      version: 1,
      createdAt: options.createdAt,
      updatedAt: options.createdAt,
      deleted: false,
      pendingWrites: []
    }
    const written: Array<TaskOutboxEntry> = []
    for (let version = 1; version <= options.version; version++) {
      const deleted = options.deleted === true && version === options.version
      const envelope = yield* envelopeOf(id, version, userId)
      const task = toTask({ ...base, version })
      const event = deleted
        ? encodeEvent({ ...envelope, type: "task.deleted", data: { task } })
        : version === 1
        ? encodeEvent({ ...envelope, type: "task.created", data: { task } })
        : encodeEvent({ ...envelope, type: "task.updated", data: { task, previousStatus: "todo", previousProjectId: null, changes: [] } })
      written.push({
        _id: envelope.id,
        taskId: id,
        version,
        deleted,
        events: [...(written[written.length - 1]?.events ?? []), event],
        createdAt: options.createdAt
      })
    }
    const repo = yield* TaskRepo
    for (const entry of written) yield* repo.recordEntry(entry)
    // The task as written up to version `named` (the writes after it recorded their entries only).
    const named = written.slice(0, options.named)
    yield* repo.tasks.insertOne({
      ...base,
      version: options.named,
      deleted: options.deleted === true && options.named === options.version,
      pendingWrites: named.map((entry) => entry._id)
    })
    return { id, written }
  })

const remaining = (taskId: TaskId) =>
  Effect.flatMap(TaskRepo, (repo) => repo.entries.find({ taskId })).pipe(
    Effect.map((entries) => entries.map((entry) => entry.version).sort())
  )

const pendingOf = (taskId: string, held: (id: string, version: number) => boolean = notHeld) =>
  Effect.flatMap(TaskRepo, (repo) => repo.outbox.pending(1000, held)).pipe(
    Effect.map((docs): ReadonlyArray<PendingDocument> => docs.filter((doc) => doc.id === taskId))
  )

const cases = (store: Layer.Layer<DocumentStore>) =>
  layer(TaskRepo.Default.pipe(Layer.provide(store)), { excludeTestServices: true })

const run = (it: Vitest.MethodsNonLive<TaskRepo, true>) => {
  it.effect("an entry its task names is relayed once past the hand-over window, the newest of each task with all its events", () =>
    Effect.gen(function*() {
      const { id, written } = yield* taskWithWrites({ version: 3, named: 3, createdAt: past(handOverWindow, 2) })
      const found = yield* pendingOf(id)
      expect(found.map((doc) => [doc.version, doc.deleted, doc.events.map((event) => event.id)])).toEqual([
        [3, false, written.map((entry) => entry._id)]
      ])
    }))

  it.effect("fresh entries are left to the writer and the relay that have them; entries the relay holds are skipped", () =>
    Effect.gen(function*() {
      const fresh = yield* taskWithWrites({ version: 1, named: 1, createdAt: secondsAgo(0) })
      expect(yield* pendingOf(fresh.id)).toEqual([])
      const held = yield* taskWithWrites({ version: 2, named: 2, createdAt: past(handOverWindow, 2) })
      expect(yield* pendingOf(held.id, (id, version) => id === held.id && version <= 2)).toEqual([])
      expect((yield* pendingOf(held.id, (id, version) => id === held.id && version <= 1)).map((doc) => doc.version)).toEqual([2])
    }))

  it.effect("an entry no task names is kept while its writer may still be writing, then dropped", () =>
    Effect.gen(function*() {
      // The writer recorded version 2's entry but its task write has not happened (yet, or ever).
      const waiting = yield* taskWithWrites({ version: 2, named: 1, createdAt: past(handOverWindow, 2) })
      expect((yield* pendingOf(waiting.id)).map((doc) => doc.version)).toEqual([1])
      expect(yield* remaining(waiting.id)).toEqual([1, 2])
      const abandoned = yield* taskWithWrites({ version: 2, named: 1, createdAt: past(abandonAfter, 2) })
      expect((yield* pendingOf(abandoned.id)).map((doc) => doc.version)).toEqual([1])
      expect(yield* remaining(abandoned.id)).toEqual([1])
      // A task never written at all (its writer died between the two writes): its entry goes too.
      const repo = yield* TaskRepo
      const orphan = yield* taskWithWrites({ version: 1, named: 1, createdAt: past(abandonAfter, 2) })
      yield* repo.tasks.deleteOne({ _id: orphan.id })
      expect(yield* pendingOf(orphan.id)).toEqual([])
      expect(yield* remaining(orphan.id)).toEqual([])
    }))

  it.effect("settling removes a task's entries up to the published version, and a deleted task's document", () =>
    Effect.gen(function*() {
      const repo = yield* TaskRepo
      const live = yield* taskWithWrites({ version: 3, named: 3, createdAt: past(handOverWindow, 2) })
      yield* repo.outbox.settle([{ id: live.id, version: 2, deleted: false, events: [] }])
      expect(yield* remaining(live.id)).toEqual([3])
      expect(Option.isSome(yield* repo.tasks.findOne({ _id: live.id }))).toBe(true)
      const gone = yield* taskWithWrites({ version: 2, named: 2, createdAt: past(handOverWindow, 2), deleted: true })
      yield* repo.outbox.settle([{ id: gone.id, version: 2, deleted: true, events: [] }])
      expect(yield* remaining(gone.id)).toEqual([])
      expect(Option.isNone(yield* repo.tasks.findOne({ _id: gone.id }))).toBe(true)
    }))
}

/** Before any scan of a fresh repository (a relay starting): the events an earlier build left in a task document. */
const upgrade = (it: Vitest.MethodsNonLive<TaskRepo, true>) => {
  it.effect("events an earlier build left in a task document go with its next write, or move to the outbox when the relay starts", () =>
    Effect.gen(function*() {
      const repo = yield* TaskRepo
      const { id, written } = yield* taskWithWrites({ version: 2, named: 0, createdAt: past(abandonAfter, 2) })
      // The earlier shape: version 2, its events in the document, no entries.
      yield* repo.entries.deleteMany({ taskId: id })
      const events = written[1]?.events ?? []
      yield* repo.tasks.updateOne({ _id: id }, { $set: { version: 2, outbox: events, outboxPending: true } })
      // A write now would carry them over in its own entry.
      const before = Option.getOrThrow(yield* repo.tasks.findOne({ _id: id }))
      expect((yield* repo.waiting(before)).events.map((event) => event.id)).toEqual(events.map((event) => event.id))
      const found = yield* pendingOf(id)
      expect(found.map((doc) => [doc.version, doc.events.map((event) => event.id)])).toEqual([[2, events.map((event) => event.id)]])
      const task = yield* repo.tasks.findOne({ _id: id })
      expect(Option.map(task, (doc) => [doc.outboxPending, doc.outbox, doc.pendingWrites.length])).toEqual(Option.some([false, [], 1]))
      // Settled like any other, and not moved again.
      yield* repo.outbox.settle(found)
      expect(yield* remaining(id)).toEqual([])
      expect(yield* pendingOf(id)).toEqual([])
    }))
}

describe("the tasks' outbox collection", () => {
  cases(MemoryStore.layerMemory)("on the in-memory store", run)
  cases(mongoStore("task-outbox"))("on the MongoDB-wire server", run)
  cases(MemoryStore.layerMemory)("upgrading, on the in-memory store", upgrade)
  cases(mongoStore("task-outbox-upgrade"))("upgrading, on the MongoDB-wire server", upgrade)
})
