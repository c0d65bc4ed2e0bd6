import { Clock, Effect, Schema } from "effect"
import { IsoDateTime } from "./Common.ts"
import { ExportFormat } from "./Export.ts"
import { Comment } from "./Comment.ts"
import { EventId, ExportId, FamilyId, newEventId, ProjectId, TaskId, UserId } from "./Ids.ts"
import { MemberRef, MemberRoles, ProjectRole } from "./Member.ts"
import { Task, TaskStatus } from "./Task.ts"
import { SessionClient } from "./User.ts"

/** The exchange every domain event is published to; the routing key is the event type. */
export const eventsExchange = "herald.events"

/**
 * The envelope of every domain event. `aggregateVersion` orders the events of one aggregate; `id` is the
 * de-duplication key of every consumer.
 */
const envelope = <const Type extends string, Data extends Schema.Struct.Fields>(type: Type, data: Data) =>
  Schema.Struct({
    id: EventId,
    type: Schema.Literal(type),
    schemaVersion: Schema.Literal(1),
    occurredAt: IsoDateTime,
    aggregateId: Schema.String,
    aggregateVersion: Schema.Int.pipe(Schema.positive()),
    userId: UserId,
    /** The actor's name when the event was made, so that a notification names them without a lookup. */
    actorName: Schema.optional(Schema.String),
    data: Schema.Struct(data),
    traceparent: Schema.optional(Schema.String)
  })

/**
 * Who may hear of a task's event as the task was then: its watchers and its project's members as the writer read them
 * (`projectVersion`; null without a project). A consumer that knows a newer membership uses that instead.
 */
export const TaskAudience = Schema.Struct({
  watchers: Schema.Array(UserId),
  memberIds: Schema.Array(UserId),
  projectVersion: Schema.NullOr(Schema.Int)
})
export type TaskAudience = typeof TaskAudience.Type

/** Events of tasks made before projects were shared carry no audience: nobody else can have watched them. */
const audience = { audience: Schema.optional(TaskAudience) }

export const TaskCreated = envelope("task.created", { task: Task, ...audience })
export type TaskCreated = typeof TaskCreated.Type

export const TaskUpdated = envelope("task.updated", {
  task: Task,
  previousStatus: TaskStatus,
  previousProjectId: Schema.NullOr(ProjectId),
  previousAssigneeId: Schema.optional(Schema.NullOr(UserId)),
  changes: Schema.Array(Schema.String),
  ...audience
})
export type TaskUpdated = typeof TaskUpdated.Type

export const TaskDeleted = envelope("task.deleted", { task: Task, ...audience })
export type TaskDeleted = typeof TaskDeleted.Type

/** Someone started or stopped watching a task: nobody is told, but what follows the task (reminders) hears it. */
export const TaskWatchersChanged = envelope("task.watchers_changed", { task: Task, audience: TaskAudience })
export type TaskWatchersChanged = typeof TaskWatchersChanged.Type

/** A comment on a task; the people it mentions are in `comment.mentions`. Its aggregate is the comment. */
export const TaskCommented = envelope("task.commented", {
  comment: Comment,
  task: Schema.Struct({ id: TaskId, title: Schema.String, projectId: Schema.NullOr(ProjectId), assigneeId: Schema.NullOr(UserId) }),
  audience: TaskAudience
})
export type TaskCommented = typeof TaskCommented.Type

/** Every project event carries the project's name and all its members after the change (`members`). */
const projectData = { projectId: ProjectId, name: Schema.String, members: MemberRoles }

export const ProjectMemberAdded = envelope("project.member_added", { ...projectData, member: MemberRef })
export type ProjectMemberAdded = typeof ProjectMemberAdded.Type

/** A member removed by the owner, or one who left (`userId` of the envelope is then the member). */
export const ProjectMemberRemoved = envelope("project.member_removed", { ...projectData, member: MemberRef })
export type ProjectMemberRemoved = typeof ProjectMemberRemoved.Type

export const ProjectMemberRoleChanged = envelope("project.member_role_changed", {
  ...projectData,
  member: MemberRef,
  previousRole: ProjectRole
})
export type ProjectMemberRoleChanged = typeof ProjectMemberRoleChanged.Type

/** `member` is the new owner; `previousOwner` is now an editor. */
export const ProjectOwnershipTransferred = envelope("project.ownership_transferred", {
  ...projectData,
  member: MemberRef,
  previousOwner: MemberRef
})
export type ProjectOwnershipTransferred = typeof ProjectOwnershipTransferred.Type

export const ProjectUpdated = envelope("project.updated", {
  ...projectData,
  previousName: Schema.String,
  changes: Schema.Array(Schema.String)
})
export type ProjectUpdated = typeof ProjectUpdated.Type

/** `members`: who were members when it was deleted (absent in events of projects that were never shared). */
export const ProjectDeleted = envelope("project.deleted", {
  projectId: ProjectId,
  name: Schema.String,
  members: Schema.optional(MemberRoles)
})
export type ProjectDeleted = typeof ProjectDeleted.Type

/** A user asked for an export: the job, published through the outbox so that it is never lost. */
export const ExportRequested = envelope("export.requested", {
  exportId: ExportId,
  format: ExportFormat,
  projectId: Schema.NullOr(ProjectId)
})
export type ExportRequested = typeof ExportRequested.Type

export const ExportCompleted = envelope("export.completed", {
  exportId: ExportId,
  format: ExportFormat,
  taskCount: Schema.Int,
  downloadPath: Schema.String
})
export type ExportCompleted = typeof ExportCompleted.Type

export const ExportFailed = envelope("export.failed", {
  exportId: ExportId,
  format: ExportFormat,
  error: Schema.String
})
export type ExportFailed = typeof ExportFailed.Type

/**
 * A spent refresh token was presented again, so its family (every session of one login) was revoked: someone may hold
 * a stolen token. Its aggregate is the family; `userId` is the account's owner, who is told (nobody acted on purpose).
 */
export const SessionRevoked = envelope("security.session_revoked", {
  familyId: FamilyId,
  reason: Schema.Literal("reuse"),
  revokedAt: IsoDateTime,
  /** Who presented the spent token (null when the gateway did not say). */
  client: Schema.NullOr(SessionClient)
})
export type SessionRevoked = typeof SessionRevoked.Type

export const DomainEvent = Schema.Union(
  TaskCreated,
  TaskUpdated,
  TaskDeleted,
  TaskWatchersChanged,
  TaskCommented,
  ProjectMemberAdded,
  ProjectMemberRemoved,
  ProjectMemberRoleChanged,
  ProjectOwnershipTransferred,
  ProjectUpdated,
  ProjectDeleted,
  ExportRequested,
  ExportCompleted,
  ExportFailed,
  SessionRevoked
)
export type DomainEvent = typeof DomainEvent.Type
export type DomainEventEncoded = typeof DomainEvent.Encoded

export const TaskEvent = Schema.Union(TaskCreated, TaskUpdated, TaskDeleted)
export type TaskEvent = typeof TaskEvent.Type

export const encodeEvent = Schema.encodeSync(DomainEvent)
export const decodeEvent = Schema.decodeUnknown(DomainEvent)

/** The project events: each changes who is in the project or what it is called, and concerns all its members. */
export const ProjectEvent = Schema.Union(
  ProjectMemberAdded,
  ProjectMemberRemoved,
  ProjectMemberRoleChanged,
  ProjectOwnershipTransferred,
  ProjectUpdated,
  ProjectDeleted
)
export type ProjectEvent = typeof ProjectEvent.Type

/** The envelope fields of a new event of `aggregateId` at `aggregateVersion`, caused by `userId` (named `actorName`). */
export const envelopeOf = (aggregateId: string, aggregateVersion: number, userId: UserId, actorName?: string) =>
  Effect.map(Effect.all([newEventId, Clock.currentTimeMillis]), ([id, now]) => ({
    id,
    schemaVersion: 1 as const,
    occurredAt: new Date(now),
    aggregateId,
    aggregateVersion,
    userId,
    ...(actorName !== undefined ? { actorName } : {})
  }))
