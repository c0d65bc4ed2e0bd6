import { describe, expect, layer, type Vitest } from "@effect/vitest"
import { type DomainEventEncoded, encodeEvent, envelopeOf } from "@herald/domain/Events"
import { newProjectId, newTaskId, type TaskId, ulidAt, UserId } from "@herald/domain/Ids"
import * as MemoryStore from "@herald/infra/MemoryStore"
import type { PendingDocument } from "@herald/infra/Outbox"
import { DocumentStore } from "@herald/infra/Store"
import { mongoStore } from "@herald/testing/Env"
import { Effect, Either, Layer, Option, Schema } from "effect"
import { ProjectRepo } from "../src/ProjectRepo.ts"
import { TaskDoc, TaskRepo, toTask } from "../src/TaskRepo.ts"

/**
 * The outbox as tasks and projects keep it (the design exports share): a write and its events are one
 * compare-and-set on the document's version, and settling clears what was published with a compare-and-set on the
 * version published. Stale versions are tested one after another, which is exact on FerretDB too (FERRETDB.md); the
 * end-to-end case (writes while the broker refuses, then the service killed) is in Outbox.test.ts.
 */

const userId = Schema.decodeSync(UserId)(`usr_${ulidAt(0)}`)
const at = new Date("2030-01-01T00:00:00.000Z")

const newTask = Effect.gen(function*() {
  const repo = yield* TaskRepo
  const fields = {
    _id: yield* newTaskId,
    ownerId: userId,
    projectId: null,
    title: "t",
    description: "",
    priority: "medium" as const,
    status: "todo" as const,
    dueDate: null,
    assigneeId: null,
    watchers: [userId],
    version: 1,
    createdAt: at,
    updatedAt: at,
    deleted: false
  }
  const envelope = yield* envelopeOf(fields._id, 1, userId)
  return (yield* repo.create(fields, encodeEvent({ ...envelope, type: "task.created", data: { task: toTask(fields, userId) } }))).doc
})

/** The event a write of `task` to its next version records (a status change, or its deletion). */
const nextEvent = (task: TaskDoc, deleted = false) =>
  Effect.map(envelopeOf(task._id, task.version + 1, userId), (envelope): DomainEventEncoded => {
    const next = toTask({ ...task, version: task.version + 1, status: "done" }, userId)
    return deleted
      ? encodeEvent({ ...envelope, type: "task.deleted", data: { task: next } })
      : encodeEvent({ ...envelope, type: "task.updated", data: { task: next, previousStatus: task.status, previousProjectId: null, changes: ["status"] } })
  })

const pendingOf = (id: string) =>
  Effect.flatMap(TaskRepo, (repo) => repo.outbox.pending(1000)).pipe(
    Effect.map((docs): ReadonlyArray<PendingDocument> => docs.filter((doc) => doc.id === id))
  )

const eventIds = (doc: PendingDocument) => doc.events.map((event) => event.id)

/** Whether the task document is still stored at all (a deleted one is, until its last events are out). */
const stored = (id: TaskId) =>
  Effect.gen(function*() {
    const store = yield* DocumentStore
    const tasks = yield* store.collection({ name: "tasks", schema: TaskDoc, indexes: [] })
    return (yield* tasks.count({ _id: id })) === 1
  })

const Repos = (store: Layer.Layer<DocumentStore>) =>
  Layer.mergeAll(TaskRepo.Default, ProjectRepo.Default).pipe(Layer.provideMerge(store))

const run = (it: Vitest.MethodsNonLive<TaskRepo | ProjectRepo | DocumentStore, true>) => {
  it.scoped("a write records its event in the same write as the change; the relay is handed, and a scan finds, every event still waiting", () =>
    Effect.gen(function*() {
      const repo = yield* TaskRepo
      const created = yield* newTask
      const event = yield* nextEvent(created)
      const written = yield* repo.write(created._id, 1, { status: "done" }, [event])
      expect([written.version, written.status]).toEqual([2, "done"])
      const handed = repo.pendingOf(written)
      expect([handed.version, handed.deleted, eventIds(handed)]).toEqual([2, false, [created.outbox[0]?.id, event.id]])
      expect(yield* pendingOf(created._id)).toEqual([handed])
    }))

  it.scoped("a write at a version that moved fails with VersionMoved and changes neither the task nor its outbox", () =>
    Effect.gen(function*() {
      const repo = yield* TaskRepo
      const created = yield* newTask
      const first = yield* repo.write(created._id, 1, { status: "done" }, [yield* nextEvent(created)])
      const stale = yield* Effect.either(repo.write(created._id, 1, { title: "lost" }, [yield* nextEvent(created)]))
      expect(Either.isLeft(stale) && stale.left._tag === "VersionMoved" ? stale.left.expected : "no VersionMoved").toBe(1)
      const now = yield* repo.find(created._id)
      expect(Option.map(now, (doc) => [doc.version, doc.title, doc.outbox.map((event) => event.id)])).toEqual(
        Option.some([2, "t", first.outbox.map((event) => event.id)])
      )
    }))

  it.scoped("settling clears a task still at the published version, and leaves one written since with all its events", () =>
    Effect.gen(function*() {
      const repo = yield* TaskRepo
      const quiet = yield* newTask
      const busy = yield* newTask
      const published = [repo.pendingOf(quiet), repo.pendingOf(busy)]
      const rewritten = yield* repo.write(busy._id, 1, { status: "done" }, [yield* nextEvent(busy)])
      yield* repo.outbox.settle(published)
      expect(yield* pendingOf(quiet._id)).toEqual([])
      expect(Option.map(yield* repo.find(quiet._id), (doc) => [doc.outboxPending, doc.outbox])).toEqual(Option.some([false, []]))
      expect((yield* pendingOf(busy._id)).map(eventIds)).toEqual([eventIds(repo.pendingOf(rewritten))])
      yield* repo.outbox.settle([repo.pendingOf(rewritten)])
      expect(yield* pendingOf(busy._id)).toEqual([])
    }))

  it.scoped("a deleted task is removed once its last events are settled, not before", () =>
    Effect.gen(function*() {
      const repo = yield* TaskRepo
      const created = yield* newTask
      const deleted = yield* repo.write(created._id, 1, { deleted: true }, [yield* nextEvent(created, true)])
      expect(repo.pendingOf(deleted).deleted).toBe(true)
      expect(Option.isNone(yield* repo.find(created._id))).toBe(true)
      // The version before the deletion was published: its document must stay for the `task.deleted` event.
      yield* repo.outbox.settle([repo.pendingOf(created)])
      expect(yield* stored(created._id)).toBe(true)
      expect((yield* pendingOf(created._id)).map((doc) => doc.version)).toEqual([2])
      yield* repo.outbox.settle([repo.pendingOf(deleted)])
      expect(yield* stored(created._id)).toBe(false)
    }))

  it.scoped("projects keep the same outbox: a deleted project's event waits in it, and settling clears it but keeps the project", () =>
    Effect.gen(function*() {
      const projects = yield* ProjectRepo
      const created = yield* projects.create({
        _id: yield* newProjectId,
        ownerId: userId,
        members: [],
        memberIds: [],
        name: "p",
        description: "",
        version: 1,
        deleted: false,
        createdAt: at,
        updatedAt: at
      })
      const renamed = yield* projects.write(created._id, 1, { name: "q" }, [])
      expect([renamed.version, renamed.outboxPending]).toEqual([2, false])
      const envelope = yield* envelopeOf(created._id, 3, userId)
      const event = encodeEvent({ ...envelope, type: "project.deleted", data: { projectId: created._id, name: "q" } })
      expect(Either.isLeft(yield* Effect.either(projects.write(created._id, 1, { deleted: true }, [event])))).toBe(true)
      const deleted = yield* projects.write(created._id, 2, { deleted: true }, [event])
      const found = (yield* projects.outbox.pending(1000)).filter((doc) => doc.id === created._id)
      expect(found).toEqual([projects.pendingOf(deleted)])
      expect(found.map(eventIds)).toEqual([[event.id]])
      yield* projects.outbox.settle(found)
      expect((yield* projects.outbox.pending(1000)).filter((doc) => doc.id === created._id)).toEqual([])
    }))
}

describe("the outbox of tasks and projects", () => {
  layer(Repos(MemoryStore.layerMemory), { excludeTestServices: true })("on the in-memory store", run)
  layer(Repos(mongoStore("task-outbox")), { excludeTestServices: true })("on the MongoDB-wire server", run)
})
