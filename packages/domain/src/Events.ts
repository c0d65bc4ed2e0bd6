import { Clock, Effect, Schema } from "effect"
import { IsoDateTime } from "./Common.ts"
import { ExportFormat } from "./Export.ts"
import { EventId, ExportId, newEventId, ProjectId, UserId } from "./Ids.ts"
import { Task, TaskStatus } from "./Task.ts"

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
    data: Schema.Struct(data),
    traceparent: Schema.optional(Schema.String)
  })

export const TaskCreated = envelope("task.created", { task: Task })
export type TaskCreated = typeof TaskCreated.Type

export const TaskUpdated = envelope("task.updated", {
  task: Task,
  previousStatus: TaskStatus,
  previousProjectId: Schema.NullOr(ProjectId),
  changes: Schema.Array(Schema.String)
})
export type TaskUpdated = typeof TaskUpdated.Type

export const TaskDeleted = envelope("task.deleted", { task: Task })
export type TaskDeleted = typeof TaskDeleted.Type

export const ProjectDeleted = envelope("project.deleted", { projectId: ProjectId, name: Schema.String })
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

export const DomainEvent = Schema.Union(
  TaskCreated,
  TaskUpdated,
  TaskDeleted,
  ProjectDeleted,
  ExportRequested,
  ExportCompleted,
  ExportFailed
)
export type DomainEvent = typeof DomainEvent.Type
export type DomainEventEncoded = typeof DomainEvent.Encoded

export const TaskEvent = Schema.Union(TaskCreated, TaskUpdated, TaskDeleted)
export type TaskEvent = typeof TaskEvent.Type

export const encodeEvent = Schema.encodeSync(DomainEvent)
export const decodeEvent = Schema.decodeUnknown(DomainEvent)

/** The envelope fields of a new event of `aggregateId` at `aggregateVersion`, caused by `userId`. */
export const envelopeOf = (aggregateId: string, aggregateVersion: number, userId: UserId) =>
  Effect.map(Effect.all([newEventId, Clock.currentTimeMillis]), ([id, now]) => ({
    id,
    schemaVersion: 1 as const,
    occurredAt: new Date(now),
    aggregateId,
    aggregateVersion,
    userId
  }))
