import { Schema } from "effect"
import { Cursor, IsoDateTime, Limit, TrimmedText } from "./Common.ts"
import { PathId, ProjectId, TaskId, UserId } from "./Ids.ts"
import { BooleanFromText } from "./Notification.ts"

export const TaskStatus = Schema.Literal("todo", "in_progress", "done")
export type TaskStatus = typeof TaskStatus.Type
export const taskStatuses: ReadonlyArray<TaskStatus> = TaskStatus.literals

export const TaskPriority = Schema.Literal("low", "medium", "high")
export type TaskPriority = typeof TaskPriority.Type

export const TaskTitle = TrimmedText(1, 200)
export const TaskDescription = Schema.String.pipe(Schema.maxLength(5000))

export class Task extends Schema.Class<Task>("Task")({
  id: TaskId,
  projectId: Schema.NullOr(ProjectId),
  title: Schema.String,
  description: Schema.String,
  priority: TaskPriority,
  status: TaskStatus,
  dueDate: Schema.NullOr(IsoDateTime),
  assigneeId: Schema.NullOr(UserId),
  watching: Schema.Boolean.annotations({ description: "Whether the caller watches the task (is told of its changes)" }),
  version: Schema.Int,
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime
}) {}

/** A project named by a client: any string, so that an unknown or malformed one is a clean 404. */
const ProjectRef = Schema.NullOr(PathId)

export const CreateTaskRequest = Schema.Struct({
  title: TaskTitle,
  description: Schema.optionalWith(TaskDescription, { default: () => "" }),
  priority: Schema.optionalWith(TaskPriority, { default: () => "medium" as const }),
  status: Schema.optionalWith(TaskStatus, { default: () => "todo" as const }),
  dueDate: Schema.optionalWith(Schema.NullOr(IsoDateTime), { default: () => null }),
  projectId: Schema.optionalWith(ProjectRef, { default: () => null }),
  assigneeId: Schema.optionalWith(Schema.NullOr(PathId), { default: () => null }).annotations({
    description: "A member of the task's project (for a task without a project: its creator), else 400"
  })
})
export type CreateTaskRequest = typeof CreateTaskRequest.Type

/** `PUT` replaces the task: fields left out take their defaults, as on create. */
export const ReplaceTaskRequest = CreateTaskRequest
export type ReplaceTaskRequest = CreateTaskRequest

/** `PATCH` changes only the fields present. */
export const PatchTaskRequest = Schema.Struct({
  title: Schema.optional(TaskTitle),
  description: Schema.optional(TaskDescription),
  priority: Schema.optional(TaskPriority),
  status: Schema.optional(TaskStatus),
  dueDate: Schema.optional(Schema.NullOr(IsoDateTime)),
  projectId: Schema.optional(ProjectRef),
  assigneeId: Schema.optional(Schema.NullOr(PathId))
})
export type PatchTaskRequest = typeof PatchTaskRequest.Type

export const TaskListQuery = Schema.Struct({
  projectId: Schema.optional(PathId),
  status: Schema.optional(TaskStatus),
  assigneeId: Schema.optional(PathId).annotations({ description: "A user id, or `me` for the caller" }),
  watching: Schema.optional(BooleanFromText),
  limit: Schema.optionalWith(Limit, { default: () => 20 }),
  cursor: Schema.optional(Cursor)
})
export type TaskListQuery = typeof TaskListQuery.Type

/** `If-Match: <version>` (quotes and a weak prefix are tolerated, as HTTP clients send ETags). */
export const IfMatchHeader = Schema.Struct({
  "if-match": Schema.optional(
    Schema.String.pipe(
      Schema.pattern(/^\s*(W\/)?"?\d{1,15}"?\s*$/, { message: () => "If-Match must be a task version, e.g. 3" })
    )
  )
})

export const parseIfMatch = (header: string | undefined): number | undefined =>
  header === undefined ? undefined : Number(header.replace(/[^0-9]/g, ""))
