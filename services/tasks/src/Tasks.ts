import { encodeEvent, envelopeOf, type TaskUpdated } from "@herald/domain/Events"
import { type DependencyUnavailable, type ProjectNotFound, TaskNotFound, VersionConflict } from "@herald/domain/Errors"
import { newProjectId, newTaskId, type ProjectId, type UserId } from "@herald/domain/Ids"
import type { CreateProjectRequest, UpdateProjectRequest } from "@herald/domain/Project"
import { zeroCounts } from "@herald/domain/Project"
import type { CreateTaskRequest, PatchTaskRequest } from "@herald/domain/Task"
import { VersionMoved } from "@herald/infra/Outbox"
import { Clock, Effect, Option, Schedule } from "effect"
import { TasksRelay } from "./Messaging.ts"
import { ProjectRepo, toProject } from "./ProjectRepo.ts"
import { type TaskDoc, TaskRepo, toTask } from "./TaskRepo.ts"
import { WriteLock } from "./WriteLock.ts"

/** The task fields a client sets, as stored. */
type TaskFields = Pick<TaskDoc, "title" | "description" | "priority" | "status" | "dueDate" | "projectId">

const fieldNames: ReadonlyArray<keyof TaskFields> = ["title", "description", "priority", "status", "dueDate", "projectId"]

const sameValue = (a: unknown, b: unknown) =>
  a instanceof Date && b instanceof Date ? a.getTime() === b.getTime() : a === b

/** A compare-and-set lost to another copy of the service writing the same document: read again, a few times. */
const casRetry = Schedule.exponential("5 millis").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(4)))

const isVersionMoved = (error: unknown): error is VersionMoved => error instanceof VersionMoved

/**
 * Projects and tasks. A write records its events in the document it changes, in the same compare-and-set on the
 * document's version (the outbox, `@herald/infra/Outbox`), and hands the written document to the relay. Writes of
 * one document go through the write lock, one at a time; the compare-and-set guards against other copies and serves
 * `If-Match`.
 */
export class Tasks extends Effect.Service<Tasks>()("Herald/Tasks", {
  effect: Effect.gen(function*() {
    const taskRepo = yield* TaskRepo
    const projectRepo = yield* ProjectRepo
    const { withLock } = yield* WriteLock
    const relay = yield* TasksRelay
    const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis))
    const taskNotFound = () => new TaskNotFound({ message: "task not found" })

    /** Checks that a task may point at `projectId`: null, or a live project of the same owner. */
    const projectFor = (
      userId: UserId,
      projectId: string | null
    ): Effect.Effect<ProjectId | null, ProjectNotFound | DependencyUnavailable> =>
      projectId === null ? Effect.succeed(null) : Effect.map(projectRepo.owned(userId, projectId), (doc) => doc._id)

    /** Read, check, write with compare-and-set; on a lost race read again (unless the caller pinned a version). */
    const changeTask = <E, R>(
      userId: UserId,
      taskId: string,
      ifMatch: number | undefined,
      change: (current: TaskDoc) => Effect.Effect<Partial<TaskFields> | "delete", E, R>
    ) =>
      withLock(taskId)(
        Effect.gen(function*() {
          const current = yield* Effect.flatMap(
            taskRepo.findOwned(userId, taskId),
            Option.match({ onNone: () => Effect.fail(taskNotFound()), onSome: Effect.succeed })
          )
          if (ifMatch !== undefined && ifMatch !== current.version) {
            return yield* Effect.fail(
              new VersionConflict({
                message: `task is at version ${current.version}, not ${ifMatch}`,
                details: { expected: ifMatch, current: current.version }
              })
            )
          }
          const outcome = yield* change(current)
          const version = current.version + 1
          const updatedAt = yield* now
          const envelope = yield* envelopeOf(current._id, version, userId)
          const deleted = outcome === "delete"
          const fields = deleted ? { deleted: true, updatedAt } : { ...outcome, updatedAt }
          const task = toTask({ ...current, ...fields, version })
          const event = deleted
            ? encodeEvent({ ...envelope, type: "task.deleted", data: { task } })
            : encodeEvent({
              ...envelope,
              type: "task.updated",
              data: {
                task,
                previousStatus: current.status,
                previousProjectId: current.projectId,
                changes: fieldNames.filter((name) => !sameValue(current[name], task[name]))
              }
            } satisfies TaskUpdated)
          const written = yield* taskRepo.write(current._id, current.version, fields, [event])
          yield* relay.nudgeDocument("tasks", taskRepo.pendingOf(written))
          return task
        }).pipe(
          Effect.retry({ schedule: casRetry, while: (error) => ifMatch === undefined && isVersionMoved(error) }),
          Effect.catchIf(isVersionMoved, (moved) =>
            ifMatch === undefined
              ? Effect.die(moved)
              : Effect.fail(new VersionConflict({ message: "task changed meanwhile", details: { expected: ifMatch, current: ifMatch + 1 } })))
        )
      )

    const deleteTask = (userId: UserId, taskId: string, ifMatch?: number) =>
      changeTask(userId, taskId, ifMatch, () => Effect.succeed("delete" as const)).pipe(Effect.asVoid)

    /** Deletes the live tasks of a project (each with its event). Idempotent: run again after a crash, or by events. */
    const cascade = (userId: UserId, projectId: ProjectId) =>
      Effect.flatMap(taskRepo.liveInProject(userId, projectId), (docs) =>
        Effect.forEach(docs, (doc) =>
          deleteTask(userId, doc._id).pipe(
            // Gone meanwhile is fine; a version conflict cannot happen without If-Match.
            Effect.catchTags({ TaskNotFound: () => Effect.void, VersionConflict: (error) => Effect.die(error) })
          ), { concurrency: 4, discard: true }))

    return {
      createProject: (userId: UserId, request: CreateProjectRequest) =>
        Effect.gen(function*() {
          const createdAt = yield* now
          const doc = yield* projectRepo.create({
            _id: yield* newProjectId,
            ownerId: userId,
            name: request.name,
            description: request.description,
            version: 1,
            deleted: false,
            createdAt,
            updatedAt: createdAt
          })
          return toProject(doc, zeroCounts)
        }),

      listProjects: projectRepo.list,

      getProject: (userId: UserId, projectId: string) => Effect.flatMap(projectRepo.owned(userId, projectId), projectRepo.withCounts),

      updateProject: (userId: UserId, projectId: string, patch: UpdateProjectRequest) =>
        withLock(projectId)(
          Effect.gen(function*() {
            const current = yield* projectRepo.owned(userId, projectId)
            const written = yield* projectRepo.write(current._id, current.version, {
              ...(patch.name !== undefined ? { name: patch.name } : {}),
              ...(patch.description !== undefined ? { description: patch.description } : {}),
              updatedAt: yield* now
            }, [])
            return yield* projectRepo.withCounts(written)
          }).pipe(Effect.retry({ schedule: casRetry, while: isVersionMoved }), Effect.catchIf(isVersionMoved, Effect.die))
        ),

      deleteProject: (userId: UserId, projectId: string) =>
        Effect.gen(function*() {
          const deleted = yield* withLock(projectId)(
            Effect.gen(function*() {
              const current = yield* projectRepo.owned(userId, projectId)
              const version = current.version + 1
              const envelope = yield* envelopeOf(current._id, version, userId)
              const event = encodeEvent({ ...envelope, type: "project.deleted", data: { projectId: current._id, name: current.name } })
              const written = yield* projectRepo.write(current._id, current.version, { deleted: true, updatedAt: yield* now }, [event])
              yield* relay.nudgeDocument("projects", projectRepo.pendingOf(written))
              return written._id
            }).pipe(Effect.retry({ schedule: casRetry, while: isVersionMoved }), Effect.catchIf(isVersionMoved, Effect.die))
          )
          // Its tasks go now; the `project.deleted` event runs the same cascade again should this copy die midway.
          yield* cascade(userId, deleted)
        }),

      cascade,

      createTask: (userId: UserId, request: CreateTaskRequest) =>
        Effect.gen(function*() {
          const projectId = yield* projectFor(userId, request.projectId)
          const createdAt = yield* now
          const id = yield* newTaskId
          const doc = {
            _id: id,
            ownerId: userId,
            projectId,
            title: request.title,
            description: request.description,
            priority: request.priority,
            status: request.status,
            dueDate: request.dueDate,
            version: 1,
            createdAt,
            updatedAt: createdAt,
            deleted: false
          }
          const task = toTask(doc)
          const envelope = yield* envelopeOf(id, 1, userId)
          const written = yield* taskRepo.create(doc, encodeEvent({ ...envelope, type: "task.created", data: { task } }))
          yield* relay.nudgeDocument("tasks", taskRepo.pendingOf(written))
          return task
        }),

      listTasks: taskRepo.list,

      getTask: (userId: UserId, taskId: string) =>
        Effect.flatMap(taskRepo.findOwned(userId, taskId), Option.match({ onNone: () => Effect.fail(taskNotFound()), onSome: (doc) => Effect.succeed(toTask(doc)) })),

      replaceTask: (userId: UserId, taskId: string, request: CreateTaskRequest, ifMatch: number | undefined) =>
        changeTask(userId, taskId, ifMatch, () =>
          Effect.map(projectFor(userId, request.projectId), (projectId) => ({
            title: request.title,
            description: request.description,
            priority: request.priority,
            status: request.status,
            dueDate: request.dueDate,
            projectId
          }))),

      patchTask: (userId: UserId, taskId: string, patch: PatchTaskRequest, ifMatch: number | undefined) =>
        changeTask(userId, taskId, ifMatch, (current) =>
          Effect.map(
            patch.projectId === undefined || patch.projectId === current.projectId
              ? Effect.succeed(current.projectId)
              : projectFor(userId, patch.projectId),
            (projectId): Partial<TaskFields> => ({
              ...(patch.title !== undefined ? { title: patch.title } : {}),
              ...(patch.description !== undefined ? { description: patch.description } : {}),
              ...(patch.priority !== undefined ? { priority: patch.priority } : {}),
              ...(patch.status !== undefined ? { status: patch.status } : {}),
              ...(patch.dueDate !== undefined ? { dueDate: patch.dueDate } : {}),
              projectId
            })
          )),

      deleteTask,

      exportPage: (userId: UserId, projectId: string | null, after: string | null, limit: number) =>
        Effect.gen(function*() {
          const project = yield* projectFor(userId, projectId)
          const tasks = yield* taskRepo.exportPage(userId, project, after, limit)
          const last = tasks[tasks.length - 1]
          return { tasks, last: tasks.length === limit && last !== undefined ? last.id : null }
        })
    }
  }),
}) {}
