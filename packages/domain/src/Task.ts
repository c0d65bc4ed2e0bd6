import { Schema } from "effect"
import { BooleanFromText, cursorParam, IsoDateTime, limitParam, noNul, TrimmedText } from "./Common.ts"
import { exampleId, PathId, pathIdOf, ProjectId, TaskId, UserId } from "./Ids.ts"

export const TaskStatus = Schema.Literal("todo", "in_progress", "done").annotations({ description: "Where the task stands" })
export type TaskStatus = typeof TaskStatus.Type
export const taskStatuses: ReadonlyArray<TaskStatus> = TaskStatus.literals

export const TaskPriority = Schema.Literal("low", "medium", "high").annotations({ description: "How urgent the task is" })
export type TaskPriority = typeof TaskPriority.Type

export const TaskTitle = TrimmedText(1, 200, { description: "What is to be done", examples: ["Write the README"] })
export const TaskDescription = Schema.String.pipe(noNul, Schema.maxLength(5000)).annotations({
  title: "Task description",
  description: "Free text, at most 5000 characters",
  examples: ["Cover installation, configuration and the two commands."]
})

const dueDate = Schema.NullOr(IsoDateTime).annotations({ description: "When the task is due; null when it has no due date" })

export class Task extends Schema.Class<Task>("Task")({
  id: TaskId,
  projectId: Schema.NullOr(ProjectId).annotations({ description: "The project the task belongs to; null for a private task" }),
  title: Schema.String.annotations({ description: "What is to be done", examples: ["Write the README"] }),
  description: Schema.String.annotations({ description: "Free text", examples: ["Cover installation, configuration and the two commands."] }),
  priority: TaskPriority,
  status: TaskStatus,
  dueDate,
  assigneeId: Schema.NullOr(UserId).annotations({ description: "The member the task is assigned to; null when nobody is" }),
  watching: Schema.Boolean.annotations({ description: "Whether the caller watches the task (is told of its changes)", examples: [true] }),
  version: Schema.Int.annotations({
    identifier: "TaskVersion",
    title: "Version",
    description: "1 on creation, one more at every change; send it as If-Match to change only this version",
    examples: [1]
  }),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime
}, { description: "A task of the caller's, private or in one of their projects" }) {}

/** A project named by a client: any string, so that an unknown or malformed one is a clean 404. */
const ProjectRef = Schema.NullOr(
  PathId.annotations({ title: "Project id", description: "A project of the caller's (404 otherwise)", examples: [exampleId("prj")] })
).annotations({ description: "The project to put the task in; null (the default) for a private task" })

/** A user named by a client as assignee: a member of the task's project, else 400. */
const AssigneeRef = Schema.NullOr(
  PathId.annotations({
    title: "Assignee id",
    description: "A member of the task's project (for a private task: its creator), else 400",
    examples: [exampleId("usr")]
  })
).annotations({ description: "Who the task is assigned to; null for nobody" })

export const CreateTaskRequest = Schema.Struct({
  title: TaskTitle,
  description: Schema.optionalWith(TaskDescription, { default: () => "" }),
  priority: Schema.optionalWith(TaskPriority, { default: () => "medium" as const }),
  status: Schema.optionalWith(TaskStatus, { default: () => "todo" as const }),
  dueDate: Schema.optionalWith(Schema.NullOr(IsoDateTime), { default: () => null }),
  projectId: Schema.optionalWith(ProjectRef, { default: () => null }),
  assigneeId: Schema.optionalWith(AssigneeRef, { default: () => null })
}).annotations({
  description: "A new task: only the title is required",
  examples: [{ title: "Write the README", description: "", priority: "high", status: "todo", dueDate: null, projectId: null, assigneeId: null }]
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
  assigneeId: Schema.optional(AssigneeRef)
}).annotations({ description: "The fields to change; those left out keep their value", examples: [{ status: "done" }] })
export type PatchTaskRequest = typeof PatchTaskRequest.Type

export const TaskListQuery = Schema.Struct({
  projectId: Schema.optional(pathIdOf("prj", "project").annotations({ description: "Only the tasks of this project" })),
  status: Schema.optional(TaskStatus.annotations({ description: "Only the tasks with this status", examples: ["todo"] })),
  assigneeId: Schema.optional(
    PathId.annotations({ title: "Assignee", description: "Only the tasks assigned to this user id, or `me` for the caller", examples: ["me"] })
  ),
  watching: Schema.optional(BooleanFromText.annotations({ description: "`true`: only the tasks the caller watches", examples: [true] })),
  limit: limitParam(20),
  cursor: cursorParam("tsk")
})
export type TaskListQuery = typeof TaskListQuery.Type

/** `If-Match: <version>` (quotes and a weak prefix are tolerated, as HTTP clients send ETags). */
export const IfMatchHeader = Schema.Struct({
  "if-match": Schema.optional(
    Schema.String.pipe(
      Schema.pattern(/^\s*(W\/)?"?\d{1,15}"?\s*$/, { message: () => "If-Match must be a task version, e.g. 3" })
    ).annotations({
      title: "If-Match",
      description: "The task's `version` as the client last saw it: the change is refused with 409 if it is no longer current",
      examples: ["1"]
    })
  )
})

export const parseIfMatch = (header: string | undefined): number | undefined =>
  header === undefined ? undefined : Number(header.replace(/[^0-9]/g, ""))
