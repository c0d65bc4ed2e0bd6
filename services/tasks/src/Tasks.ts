import type { CreateCommentRequest } from "@herald/domain/Comment"
import { decodeCursor, encodeCursor } from "@herald/domain/Common"
import {
  CommentNotFound,
  Conflict,
  type DependencyUnavailable,
  Forbidden,
  MemberNotFound,
  TaskNotFound,
  ValidationFailed,
  VersionConflict
} from "@herald/domain/Errors"
import { type DomainEvent, encodeEvent, envelopeOf, type TaskAudience, type TaskUpdated } from "@herald/domain/Events"
import { newCommentId, newProjectId, newTaskId, type ProjectId, type UserId } from "@herald/domain/Ids"
import { Member, type MemberRef, type MemberRole, type ProjectRole } from "@herald/domain/Member"
import type { CreateProjectRequest, UpdateProjectRequest } from "@herald/domain/Project"
import { zeroCounts } from "@herald/domain/Project"
import type { CreateTaskRequest, PatchTaskRequest, TaskListQuery } from "@herald/domain/Task"
import { VersionMoved } from "@herald/infra/Outbox"
import { Clock, Effect, Option, Schedule } from "effect"
import { CommentRepo, toComment } from "./CommentRepo.ts"
import { parseMentions } from "./Mentions.ts"
import { TasksRelay } from "./Messaging.ts"
import { People } from "./People.ts"
import { type Access, type MemberEntry, membersOf, type ProjectDoc, ProjectRepo, requireRole, toProject } from "./ProjectRepo.ts"
import { type TaskDoc, TaskRepo, toTask } from "./TaskRepo.ts"
import { WriteLock } from "./WriteLock.ts"

/** The task fields a client sets, as stored. */
type TaskFields = Pick<TaskDoc, "title" | "description" | "priority" | "status" | "dueDate" | "projectId" | "assigneeId">

/** A change a client asks for: the project and assignee as named (checked before they are stored). */
type TaskChange = Partial<Omit<TaskFields, "projectId" | "assigneeId">> & {
  readonly projectId?: string | null
  readonly assigneeId?: string | null
}

const fieldNames: ReadonlyArray<keyof TaskFields> = ["title", "description", "priority", "status", "dueDate", "projectId", "assigneeId"]

const sameValue = (a: unknown, b: unknown) =>
  a instanceof Date && b instanceof Date ? a.getTime() === b.getTime() : a === b

/** A compare-and-set lost to another copy of the service writing the same document: read again, a few times. */
const casRetry = Schedule.exponential("5 millis").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(4)))

const isVersionMoved = (error: unknown): error is VersionMoved => error instanceof VersionMoved

/** Retries a read-check-write on a lost compare-and-set; past the bound it is a defect. */
const retryMoved = <A, E, R>(effect: Effect.Effect<A, E | VersionMoved, R>): Effect.Effect<A, E, R> =>
  effect.pipe(
    Effect.retry({ schedule: casRetry, while: isVersionMoved }),
    Effect.catchAll((error) => (isVersionMoved(error) ? Effect.die(error) : Effect.fail(error)))
  )

const unique = <A>(items: ReadonlyArray<A>): ReadonlyArray<A> => [...new Set(items)]

const memberRoles = (members: ReadonlyArray<MemberEntry>) => members.map(({ role, userId }) => ({ userId, role }))

/** A task as its caller sees it: the task, its project (null for a private task) and the caller's role there. */
interface TaskAccess {
  readonly task: TaskDoc
  readonly project: ProjectDoc | null
  readonly role: ProjectRole
}

/**
 * Projects, members, tasks and comments. Writes record their events in the document (the outbox), one at a time per
 * document (write lock); the compare-and-set guards other copies and serves `If-Match`. Non-members get 404.
 */
export class Tasks extends Effect.Service<Tasks>()("Herald/Tasks", {
  effect: Effect.gen(function*() {
    const taskRepo = yield* TaskRepo
    const projectRepo = yield* ProjectRepo
    const commentRepo = yield* CommentRepo
    const people = yield* People
    const { withLock } = yield* WriteLock
    const relay = yield* TasksRelay
    const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis))
    const taskNotFound = () => new TaskNotFound({ message: "task not found" })
    const commentNotFound = () => new CommentNotFound({ message: "comment not found" })
    const memberNotFound = () => new MemberNotFound({ message: "no such member of this project" })

    /** The caller's view of a task, or 404 when they may not see it (private to another user, or not a member). */
    const taskAccess = (userId: UserId, taskId: string): Effect.Effect<TaskAccess, TaskNotFound | DependencyUnavailable> =>
      Effect.gen(function*() {
        const task = yield* Effect.flatMap(taskRepo.find(taskId), Option.match({ onNone: () => Effect.fail(taskNotFound()), onSome: Effect.succeed }))
        if (task.projectId === null) {
          return task.ownerId === userId ? { task, project: null, role: "owner" as const } : yield* Effect.fail(taskNotFound())
        }
        const access = yield* projectRepo.access(userId, task.projectId).pipe(Effect.catchTag("ProjectNotFound", () => Effect.fail(taskNotFound())))
        return { task, project: access.doc, role: access.role }
      })

    const requireTaskRole = (access: TaskAccess, needed: ProjectRole, action: string) =>
      access.project === null ? Effect.succeed(access) : Effect.as(requireRole({ doc: access.project, role: access.role }, needed, action), access)

    /** The members of a task's project (a private task's only member is its creator). */
    const memberIdsOf = (project: ProjectDoc | null, ownerId: UserId): ReadonlyArray<UserId> =>
      project === null ? [ownerId] : project.deleted ? [] : membersOf(project).map((member) => member.userId)

    const audienceOf = (watchers: ReadonlyArray<UserId>, project: ProjectDoc | null, ownerId: UserId): TaskAudience => ({
      watchers,
      memberIds: memberIdsOf(project, ownerId),
      projectVersion: project === null ? null : project.version
    })

    /** An assignee must be a member of the task's project (of a private task: its creator). */
    const checkAssignee = (
      assigneeId: string | null,
      project: ProjectDoc | null,
      ownerId: UserId
    ): Effect.Effect<UserId | null, ValidationFailed> => {
      if (assigneeId === null) return Effect.succeed(null)
      const member = memberIdsOf(project, ownerId).find((id) => id === assigneeId)
      return member !== undefined
        ? Effect.succeed(member)
        : Effect.fail(new ValidationFailed({
          message: project === null ? "a task without a project can only be assigned to its creator" : "the assignee must be a member of the task's project",
          details: { field: "assigneeId" }
        }))
    }

    /** A project a task is put in: the caller must be an editor there (404 for a non-member, 403 for a viewer). */
    const targetProject = (userId: UserId, projectId: string | null) =>
      projectId === null
        ? Effect.succeed(null)
        : Effect.map(Effect.flatMap(projectRepo.access(userId, projectId), (access) => requireRole(access, "editor", "adding tasks")), (access) => access.doc)

    /** Writes a task change with its event, and hands it to the relay. */
    const commitTask = (current: TaskDoc, fields: Partial<TaskDoc>, event: (task: TaskDoc) => Effect.Effect<DomainEvent>) =>
      Effect.gen(function*() {
        const updatedAt = yield* now
        const next: TaskDoc = { ...current, ...fields, updatedAt, version: current.version + 1 }
        const written = yield* taskRepo.write(current._id, current.version, { ...fields, updatedAt }, [encodeEvent(yield* event(next))])
        yield* relay.nudgeDocument("tasks", taskRepo.pendingOf(written))
        return written
      })

    /** Adds or removes a watcher, with the event that lets what follows the task (its reminders) hear of it. */
    const commitWatchers = (userId: UserId, current: TaskDoc, project: ProjectDoc | null, watchers: ReadonlyArray<UserId>) =>
      // The name only decorates an event that tells nobody: a users service that is down does not refuse the watch.
      Effect.flatMap(Effect.option(people.nameOf(userId)), (actorName) =>
        commitTask(current, { watchers: [...watchers] }, (task) =>
          Effect.map(envelopeOf(current._id, task.version, userId, Option.getOrUndefined(actorName)), (envelope) => ({
            ...envelope,
            type: "task.watchers_changed" as const,
            data: { task: toTask(task, userId), audience: audienceOf(task.watchers, project, task.ownerId) }
          }))))

    /** Read, check, write with compare-and-set; on a lost race read again (unless the caller pinned a version). */
    const changeTask = <E, R>(
      userId: UserId,
      taskId: string,
      ifMatch: number | undefined,
      change: (current: TaskDoc) => Effect.Effect<TaskChange | "delete", E, R>
    ) =>
      withLock(taskId)(
        Effect.gen(function*() {
          const access = yield* Effect.flatMap(taskAccess(userId, taskId), (found) => requireTaskRole(found, "editor", "changing tasks"))
          const current = access.task
          if (ifMatch !== undefined && ifMatch !== current.version) {
            return yield* Effect.fail(
              new VersionConflict({
                message: `task is at version ${current.version}, not ${ifMatch}`,
                details: { expected: ifMatch, current: current.version }
              })
            )
          }
          const outcome = yield* change(current)
          const actorName = yield* people.nameOf(userId)
          if (outcome === "delete") {
            yield* commitTask(current, { deleted: true }, (task) =>
              Effect.map(envelopeOf(current._id, task.version, userId, actorName), (envelope) => ({
                ...envelope,
                type: "task.deleted" as const,
                data: { task: toTask(task, userId), audience: audienceOf(task.watchers, access.project, task.ownerId) }
              })))
            return toTask(current, userId)
          }
          const { assigneeId: askedAssignee, projectId: askedProject, ...fields } = outcome
          const project = askedProject === undefined || askedProject === current.projectId
            ? access.project
            : yield* targetProject(userId, askedProject)
          const projectId = project === null ? null : project._id
          const assigneeId = yield* checkAssignee(
            askedAssignee === undefined ? current.assigneeId : askedAssignee,
            project,
            current.ownerId
          ).pipe(
            // Moved to a project the assignee is not in: the task is left unassigned rather than refused.
            Effect.catchTag("ValidationFailed", (error) => askedAssignee === undefined ? Effect.succeed(null) : Effect.fail(error))
          )
          const members = memberIdsOf(project, current.ownerId)
          const watchers = unique([...current.watchers, ...(assigneeId !== null && assigneeId !== current.assigneeId ? [assigneeId] : [])])
            .filter((id) => members.includes(id))
          const written = yield* commitTask(current, { ...fields, projectId, assigneeId, watchers }, (task) =>
            Effect.map(envelopeOf(current._id, task.version, userId, actorName), (envelope) => {
              const shown = toTask(task, userId)
              return {
                ...envelope,
                type: "task.updated" as const,
                data: {
                  task: shown,
                  previousStatus: current.status,
                  previousProjectId: current.projectId,
                  previousAssigneeId: current.assigneeId,
                  changes: fieldNames.filter((name) => !sameValue(current[name], task[name])),
                  audience: audienceOf(task.watchers, project, task.ownerId)
                }
              } satisfies TaskUpdated
            }))
          return toTask(written, userId)
        }).pipe(
          Effect.retry({ schedule: casRetry, while: (error) => ifMatch === undefined && isVersionMoved(error) }),
          Effect.catchIf(isVersionMoved, (moved) =>
            ifMatch === undefined
              ? Effect.die(moved)
              : Effect.fail(new VersionConflict({ message: "task changed meanwhile", details: { expected: ifMatch, current: ifMatch + 1 } })))
        )
      )

    const deleteTask = (userId: UserId, taskId: string, ifMatch?: number) =>
      changeTask(userId, taskId, ifMatch, () => Effect.succeed("delete" as const)).pipe(
        Effect.asVoid,
        // Only a change names a project or an assignee: a deletion cannot fail on them.
        Effect.catchTags({ ProjectNotFound: Effect.die, ValidationFailed: Effect.die })
      )

    /**
     * Deletes the live tasks of a deleted project (each with its event), as `actorId`, who deleted it. Idempotent:
     * run again after a crash, or by events.
     */
    const cascade = (actorId: UserId, projectId: ProjectId) =>
      Effect.gen(function*() {
        const docs = yield* taskRepo.liveInProject(projectId)
        const actorName = yield* people.nameOf(actorId)
        yield* Effect.forEach(docs, (doc) =>
          withLock(doc._id)(retryMoved(Effect.gen(function*() {
            const current = yield* taskRepo.find(doc._id)
            if (Option.isNone(current)) return
            yield* commitTask(current.value, { deleted: true }, (task) =>
              Effect.map(envelopeOf(task._id, task.version, actorId, actorName), (envelope) => ({
                ...envelope,
                type: "task.deleted" as const,
                // The project is gone: nobody is told of each of its tasks (its members heard of the project).
                data: { task: toTask(task, actorId), audience: { watchers: task.watchers, memberIds: [], projectVersion: null } }
              })))
          }))), { concurrency: 4, discard: true })
      })

    /** Writes a project change with its event (or none), under the project's lock, retried on a lost race. */
    const changeProject = <A, E, R>(
      userId: UserId,
      projectId: string,
      decide: (access: Access, actorName: string) => Effect.Effect<
        {
          readonly fields: Partial<ProjectDoc>
          readonly event: ((envelope: Effect.Effect.Success<ReturnType<typeof envelopeOf>>, doc: ProjectDoc) => DomainEvent) | null
          readonly result: (written: ProjectDoc) => A
        } | { readonly unchanged: A },
        E,
        R
      >
    ) =>
      withLock(projectId)(retryMoved(Effect.gen(function*() {
        const access = yield* projectRepo.access(userId, projectId)
        const actorName = yield* people.nameOf(userId)
        const decided = yield* decide(access, actorName)
        if ("unchanged" in decided) return decided.unchanged
        const current = access.doc
        const updatedAt = yield* now
        const next: ProjectDoc = { ...current, ...decided.fields, updatedAt, version: current.version + 1 }
        const envelope = yield* envelopeOf(current._id, next.version, userId, actorName)
        const events = decided.event === null ? [] : [encodeEvent(decided.event(envelope, next))]
        const written = yield* projectRepo.write(current._id, current.version, { ...decided.fields, updatedAt }, events)
        if (events.length > 0) yield* relay.nudgeDocument("projects", projectRepo.pendingOf(written))
        return decided.result(written)
      })))

    /** Members as the API shows them: with their names and emails from their accounts. */
    const withProfiles = (members: ReadonlyArray<MemberEntry>) =>
      Effect.map(people.profiles(members.map((member) => member.userId)), (profiles) => {
        const byId = new Map(profiles.map((profile) => [profile.id, profile]))
        return members.map((member) =>
          new Member({
            userId: member.userId,
            name: byId.get(member.userId)?.name ?? "",
            email: byId.get(member.userId)?.email ?? "",
            role: member.role,
            addedAt: member.addedAt
          }, true)
        )
      })

    const refOf = (member: MemberEntry, name: string): MemberRef => ({ userId: member.userId, role: member.role, name })

    const nameIn = (userId: UserId) => Effect.map(people.profiles([userId]), (found) => found[0]?.name ?? "Someone")

    const memberIn = (doc: ProjectDoc, memberId: string) => {
      const member = membersOf(doc).find((entry) => entry.userId === memberId)
      return member === undefined ? Effect.fail(memberNotFound()) : Effect.succeed(member)
    }

    /** Owner first, then in the order they were added. */
    const ordered = (members: ReadonlyArray<MemberEntry>) =>
      [...members].sort((a, b) => (a.role === "owner" ? -1 : b.role === "owner" ? 1 : a.addedAt.getTime() - b.addedAt.getTime()))

    return {
      createProject: (userId: UserId, request: CreateProjectRequest) =>
        Effect.gen(function*() {
          const createdAt = yield* now
          const doc = yield* projectRepo.create({
            _id: yield* newProjectId,
            ownerId: userId,
            members: [{ userId, role: "owner", addedAt: createdAt }],
            memberIds: [userId],
            name: request.name,
            description: request.description,
            version: 1,
            deleted: false,
            createdAt,
            updatedAt: createdAt
          })
          return toProject(doc, zeroCounts, "owner")
        }),

      listProjects: projectRepo.list,

      getProject: (userId: UserId, projectId: string) =>
        Effect.flatMap(projectRepo.access(userId, projectId), ({ doc, role }) => projectRepo.withCounts(doc, role)),

      updateProject: (userId: UserId, projectId: string, patch: UpdateProjectRequest) =>
        Effect.flatMap(
          changeProject(userId, projectId, (access) =>
            Effect.map(requireRole(access, "editor", "changing the project"), ({ doc, role }) => {
              const fields = {
                ...(patch.name !== undefined ? { name: patch.name } : {}),
                ...(patch.description !== undefined ? { description: patch.description } : {})
              }
              const changes = (["name", "description"] as const).filter((key) => fields[key] !== undefined && fields[key] !== doc[key])
              return {
                fields,
                event: changes.length === 0 ? null : (envelope, next: ProjectDoc) => ({
                  ...envelope,
                  type: "project.updated" as const,
                  data: { projectId: next._id, name: next.name, members: memberRoles(membersOf(next)), previousName: doc.name, changes }
                }),
                result: (written: ProjectDoc) => ({ written, role })
              }
            })),
          ({ role, written }) => projectRepo.withCounts(written, role)
        ),

      deleteProject: (userId: UserId, projectId: string) =>
        Effect.gen(function*() {
          const deleted = yield* changeProject(userId, projectId, (access) =>
            Effect.map(requireRole(access, "owner", "deleting the project"), ({ doc }) => ({
              fields: { deleted: true },
              event: (envelope, next: ProjectDoc) => ({
                ...envelope,
                type: "project.deleted" as const,
                data: { projectId: next._id, name: doc.name, members: memberRoles(membersOf(doc)) }
              }),
              result: (written: ProjectDoc) => written._id
            })))
          // Its tasks go now; the `project.deleted` event runs the same cascade again should this copy die midway.
          yield* cascade(userId, deleted)
        }),

      cascade,

      listMembers: (userId: UserId, projectId: string, limit: number, cursor: string | undefined) =>
        Effect.gen(function*() {
          const { doc } = yield* projectRepo.access(userId, projectId)
          const all = ordered(membersOf(doc))
          const after = cursor === undefined ? undefined : decodeCursor(cursor)
          const start = after === undefined ? 0 : all.findIndex((member) => member.userId === after) + 1
          if (after !== undefined && start === 0) return yield* Effect.fail(new ValidationFailed({ message: "invalid cursor" }))
          const page = all.slice(start, start + limit)
          const last = page[page.length - 1]
          return {
            items: yield* withProfiles(page),
            nextCursor: start + limit < all.length && last !== undefined ? encodeCursor(last.userId) : null
          }
        }),

      addMember: (userId: UserId, projectId: string, email: string, role: MemberRole) =>
        Effect.gen(function*() {
          // The role is checked before the email is looked up: only the owner learns whether an account exists.
          yield* Effect.flatMap(projectRepo.access(userId, projectId), (access) => requireRole(access, "owner", "adding members"))
          const user = yield* people.byEmail(email)
          const added = yield* changeProject(userId, projectId, (access) =>
            Effect.gen(function*() {
              yield* requireRole(access, "owner", "adding members")
              const members = membersOf(access.doc)
              if (members.some((member) => member.userId === user.id)) {
                return yield* Effect.fail(new Conflict({ message: "already a member of this project" }))
              }
              const entry: MemberEntry = { userId: user.id, role, addedAt: yield* now }
              const next = [...members, entry]
              return {
                fields: { members: next, memberIds: next.map((member) => member.userId) },
                event: (envelope, doc: ProjectDoc) => ({
                  ...envelope,
                  type: "project.member_added" as const,
                  data: { projectId: doc._id, name: doc.name, members: memberRoles(next), member: refOf(entry, user.name) }
                }),
                result: () => entry
              }
            }))
          return new Member({ userId: user.id, name: user.name, email: user.email, role: added.role, addedAt: added.addedAt }, true)
        }),

      changeMemberRole: (userId: UserId, projectId: string, memberId: string, role: MemberRole) =>
        Effect.flatMap(
          changeProject(userId, projectId, (access) =>
            Effect.gen(function*() {
              yield* requireRole(access, "owner", "changing roles")
              const member = yield* memberIn(access.doc, memberId)
              if (member.role === "owner") {
                return yield* Effect.fail(new Conflict({ message: "the owner's role changes only by a transfer of the project" }))
              }
              if (member.role === role) return { unchanged: member }
              const changed: MemberEntry = { ...member, role }
              const next = membersOf(access.doc).map((entry) => (entry.userId === member.userId ? changed : entry))
              const name = yield* nameIn(member.userId)
              return {
                fields: { members: next, memberIds: next.map((entry) => entry.userId) },
                event: (envelope, doc: ProjectDoc) => ({
                  ...envelope,
                  type: "project.member_role_changed" as const,
                  data: { projectId: doc._id, name: doc.name, members: memberRoles(next), member: refOf(changed, name), previousRole: member.role }
                }),
                result: () => changed
              }
            })),
          (member) => Effect.map(people.profiles([member.userId]), (found) =>
            new Member({
              userId: member.userId,
              name: found[0]?.name ?? "",
              email: found[0]?.email ?? "",
              role: member.role,
              addedAt: member.addedAt
            }, true))
        ),

      removeMember: (userId: UserId, projectId: string, memberId: string) =>
        changeProject(userId, projectId, (access) =>
          Effect.gen(function*() {
            const leaving = memberId === userId
            if (leaving && access.role === "owner") {
              return yield* Effect.fail(new Conflict({ message: "the owner cannot leave the project: transfer it to another member first" }))
            }
            if (!leaving) yield* requireRole(access, "owner", "removing members")
            const member = yield* memberIn(access.doc, memberId)
            const next = membersOf(access.doc).filter((entry) => entry.userId !== member.userId)
            const name = yield* nameIn(member.userId)
            return {
              fields: { members: next, memberIds: next.map((entry) => entry.userId) },
              event: (envelope, doc: ProjectDoc) => ({
                ...envelope,
                type: "project.member_removed" as const,
                data: { projectId: doc._id, name: doc.name, members: memberRoles(next), member: refOf(member, name) }
              }),
              result: () => undefined
            }
          })),

      transferProject: (userId: UserId, projectId: string, memberId: string) =>
        Effect.flatMap(
          changeProject(userId, projectId, (access) =>
            Effect.gen(function*() {
              yield* requireRole(access, "owner", "transferring the project")
              const member = yield* memberIn(access.doc, memberId)
              if (member.userId === userId) return { unchanged: access.doc }
              const next = membersOf(access.doc).map((entry): MemberEntry =>
                entry.userId === member.userId ? { ...entry, role: "owner" } : entry.userId === userId ? { ...entry, role: "editor" } : entry
              )
              const [newName, oldName] = yield* Effect.all([nameIn(member.userId), nameIn(userId)])
              return {
                fields: { members: next, memberIds: next.map((entry) => entry.userId), ownerId: member.userId },
                event: (envelope, doc: ProjectDoc) => ({
                  ...envelope,
                  type: "project.ownership_transferred" as const,
                  data: {
                    projectId: doc._id,
                    name: doc.name,
                    members: memberRoles(next),
                    member: { userId: member.userId, role: "owner" as const, name: newName },
                    previousOwner: { userId, role: "editor" as const, name: oldName }
                  }
                }),
                result: (written: ProjectDoc) => written
              }
            })),
          (doc) => projectRepo.withCounts(doc, doc.ownerId === userId ? "owner" : "editor")
        ),

      /** `requestKey`: the create's `Idempotency-Key` (hashed): the same key of the same user makes one task, ever. */
      createTask: (userId: UserId, request: CreateTaskRequest, requestKey?: string) =>
        Effect.gen(function*() {
          const project = yield* targetProject(userId, request.projectId)
          const assigneeId = yield* checkAssignee(request.assigneeId, project, userId)
          const createdAt = yield* now
          const candidate = yield* newTaskId
          const id = requestKey === undefined ? candidate : yield* taskRepo.claimRequest(`${userId}:${requestKey}`, candidate, createdAt)
          const doc = {
            _id: id,
            ownerId: userId,
            projectId: project === null ? null : project._id,
            title: request.title,
            description: request.description,
            priority: request.priority,
            status: request.status,
            dueDate: request.dueDate,
            assigneeId,
            watchers: unique([userId, ...(assigneeId === null ? [] : [assigneeId])]),
            version: 1,
            createdAt,
            updatedAt: createdAt,
            deleted: false
          }
          const task = toTask(doc, userId)
          const envelope = yield* envelopeOf(id, 1, userId, yield* people.nameOf(userId))
          const written = yield* taskRepo.create(
            doc,
            encodeEvent({ ...envelope, type: "task.created", data: { task, audience: audienceOf(doc.watchers, project, userId) } })
          )
          // The same keyed request again (its first answer was lost): the task it made, not a second one.
          if (written._tag === "Existing") return toTask(written.doc, userId)
          yield* relay.nudgeDocument("tasks", taskRepo.pendingOf(written.doc))
          return task
        }),

      listTasks: (userId: UserId, query: TaskListQuery) =>
        Effect.flatMap(projectRepo.idsOf(userId), (projectIds) => taskRepo.list(userId, projectIds, query)),

      getTask: (userId: UserId, taskId: string) => Effect.map(taskAccess(userId, taskId), ({ task }) => toTask(task, userId)),

      replaceTask: (userId: UserId, taskId: string, request: CreateTaskRequest, ifMatch: number | undefined) =>
        changeTask(userId, taskId, ifMatch, () =>
          Effect.succeed({
            title: request.title,
            description: request.description,
            priority: request.priority,
            status: request.status,
            dueDate: request.dueDate,
            projectId: request.projectId,
            assigneeId: request.assigneeId
          })),

      patchTask: (userId: UserId, taskId: string, patch: PatchTaskRequest, ifMatch: number | undefined) =>
        changeTask(userId, taskId, ifMatch, (): Effect.Effect<TaskChange> =>
          Effect.succeed({
            ...(patch.title !== undefined ? { title: patch.title } : {}),
            ...(patch.description !== undefined ? { description: patch.description } : {}),
            ...(patch.priority !== undefined ? { priority: patch.priority } : {}),
            ...(patch.status !== undefined ? { status: patch.status } : {}),
            ...(patch.dueDate !== undefined ? { dueDate: patch.dueDate } : {}),
            ...(patch.projectId !== undefined ? { projectId: patch.projectId } : {}),
            ...(patch.assigneeId !== undefined ? { assigneeId: patch.assigneeId } : {})
          })),

      deleteTask,

      /** Starts or stops watching a task: every member who can see it may. Nobody is notified of it. */
      watchTask: (userId: UserId, taskId: string, watching: boolean) =>
        withLock(taskId)(retryMoved(Effect.gen(function*() {
          const { project, task } = yield* taskAccess(userId, taskId)
          if (task.watchers.includes(userId) === watching) return
          yield* commitWatchers(userId, task, project, watching ? [...task.watchers, userId] : task.watchers.filter((id) => id !== userId))
        }))),

      createComment: (userId: UserId, taskId: string, request: CreateCommentRequest) =>
        Effect.gen(function*() {
          // Commenting makes the author a watcher: written on the task first, so the comment's event counts them.
          const access = yield* withLock(taskId)(retryMoved(Effect.gen(function*() {
            const found = yield* taskAccess(userId, taskId)
            if (found.task.watchers.includes(userId)) return found
            const written = yield* commitWatchers(userId, found.task, found.project, [...found.task.watchers, userId])
            return { ...found, task: written }
          })))
          const { project, task } = access
          const members = yield* people.profiles(memberIdsOf(project, task.ownerId))
          const mentions = parseMentions(request.body, members.map((member) => ({ userId: member.id, name: member.name, email: member.email })))
          const createdAt = yield* now
          const doc = {
            _id: yield* newCommentId,
            taskId: task._id,
            projectId: task.projectId,
            authorId: userId,
            body: request.body,
            mentions,
            createdAt,
            editedAt: null,
            deleted: false,
            version: 1
          }
          const comment = toComment(doc)
          const envelope = yield* envelopeOf(doc._id, 1, userId, members.find((member) => member.id === userId)?.name ?? (yield* people.nameOf(userId)))
          const written = yield* commentRepo.create(doc, encodeEvent({
            ...envelope,
            type: "task.commented",
            data: {
              comment,
              task: { id: task._id, title: task.title, projectId: task.projectId, assigneeId: task.assigneeId },
              audience: audienceOf(task.watchers, project, task.ownerId)
            }
          }))
          yield* relay.nudgeDocument("comments", commentRepo.pendingOf(written))
          return comment
        }),

      listComments: (userId: UserId, taskId: string, limit: number, cursor: string | undefined) =>
        Effect.flatMap(taskAccess(userId, taskId), ({ task }) => commentRepo.list(task._id, limit, cursor)),

      /** The author edits a comment; its mentions are read again (nobody is notified of an edit). */
      updateComment: (userId: UserId, commentId: string, request: CreateCommentRequest) =>
        withLock(commentId)(retryMoved(Effect.gen(function*() {
          const current = yield* Effect.flatMap(commentRepo.find(commentId), Option.match({ onNone: () => Effect.fail(commentNotFound()), onSome: Effect.succeed }))
          const { project, task } = yield* taskAccess(userId, current.taskId).pipe(Effect.catchTag("TaskNotFound", () => Effect.fail(commentNotFound())))
          if (current.authorId !== userId) return yield* Effect.fail(new Forbidden({ message: "only its author may edit a comment" }))
          const members = yield* people.profiles(memberIdsOf(project, task.ownerId))
          const mentions = parseMentions(request.body, members.map((member) => ({ userId: member.id, name: member.name, email: member.email })))
          const written = yield* commentRepo.write(current._id, current.version, { body: request.body, mentions, editedAt: yield* now }, [])
          return toComment(written)
        }))),

      /** The author, an editor or the owner deletes a comment. */
      deleteComment: (userId: UserId, commentId: string) =>
        withLock(commentId)(retryMoved(Effect.gen(function*() {
          const current = yield* Effect.flatMap(commentRepo.find(commentId), Option.match({ onNone: () => Effect.fail(commentNotFound()), onSome: Effect.succeed }))
          const access = yield* taskAccess(userId, current.taskId).pipe(Effect.catchTag("TaskNotFound", () => Effect.fail(commentNotFound())))
          if (current.authorId !== userId) yield* requireTaskRole(access, "editor", "deleting others' comments")
          yield* commentRepo.write(current._id, current.version, { deleted: true }, [])
        }))),

      exportPage: (userId: UserId, projectId: string | null, after: string | null, limit: number) =>
        Effect.gen(function*() {
          const scope = projectId === null
            ? { projectIds: yield* projectRepo.idsOf(userId) }
            : { projectId: (yield* projectRepo.access(userId, projectId)).doc._id }
          const tasks = yield* taskRepo.exportPage(userId, scope, after, limit)
          const last = tasks[tasks.length - 1]
          return { tasks, last: tasks.length === limit && last !== undefined ? last.id : null }
        })
    }
  })
}) {}
