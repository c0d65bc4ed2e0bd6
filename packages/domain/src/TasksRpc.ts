import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import { Cursor, Page } from "./Common.ts"
import { DependencyUnavailable, ProjectNotFound, TaskNotFound, ValidationFailed, VersionConflict } from "./Errors.ts"
import { Readiness } from "./Health.ts"
import { PathId, UserId } from "./Ids.ts"
import { CreateProjectRequest, Project, UpdateProjectRequest } from "./Project.ts"
import { CreateTaskRequest, PatchTaskRequest, ReplaceTaskRequest, Task, TaskListQuery } from "./Task.ts"

const owner = { userId: UserId }
const Limit = Schema.Int.pipe(Schema.between(1, 1000))

/** The tasks service: projects and tasks of one owner, named by the ids clients gave (unknown ones are 404). */
export class TasksRpc extends RpcGroup.make(
  Rpc.make("CreateProject", {
    payload: { ...owner, project: CreateProjectRequest },
    success: Project,
    error: DependencyUnavailable
  }),
  Rpc.make("ListProjects", {
    payload: { ...owner, limit: Limit, cursor: Schema.optional(Cursor) },
    success: Page(Project),
    error: Schema.Union(ValidationFailed, DependencyUnavailable)
  }),
  Rpc.make("GetProject", {
    payload: { ...owner, projectId: PathId },
    success: Project,
    error: Schema.Union(ProjectNotFound, DependencyUnavailable)
  }),
  Rpc.make("UpdateProject", {
    payload: { ...owner, projectId: PathId, patch: UpdateProjectRequest },
    success: Project,
    error: Schema.Union(ProjectNotFound, DependencyUnavailable)
  }),
  Rpc.make("DeleteProject", {
    payload: { ...owner, projectId: PathId },
    error: Schema.Union(ProjectNotFound, DependencyUnavailable)
  }),
  Rpc.make("CreateTask", {
    payload: { ...owner, task: CreateTaskRequest },
    success: Task,
    error: Schema.Union(ProjectNotFound, DependencyUnavailable)
  }),
  Rpc.make("ListTasks", {
    payload: { ...owner, query: TaskListQuery },
    success: Page(Task),
    error: Schema.Union(ValidationFailed, DependencyUnavailable)
  }),
  Rpc.make("GetTask", {
    payload: { ...owner, taskId: PathId },
    success: Task,
    error: Schema.Union(TaskNotFound, DependencyUnavailable)
  }),
  Rpc.make("ReplaceTask", {
    payload: { ...owner, taskId: PathId, task: ReplaceTaskRequest, ifMatch: Schema.optional(Schema.Int) },
    success: Task,
    error: Schema.Union(TaskNotFound, ProjectNotFound, VersionConflict, DependencyUnavailable)
  }),
  Rpc.make("PatchTask", {
    payload: { ...owner, taskId: PathId, patch: PatchTaskRequest, ifMatch: Schema.optional(Schema.Int) },
    success: Task,
    error: Schema.Union(TaskNotFound, ProjectNotFound, VersionConflict, DependencyUnavailable)
  }),
  Rpc.make("DeleteTask", {
    payload: { ...owner, taskId: PathId, ifMatch: Schema.optional(Schema.Int) },
    error: Schema.Union(TaskNotFound, VersionConflict, DependencyUnavailable)
  }),
  /** Oldest first, for exports: one page after `after` (a task id), so a worker streams any number of tasks. */
  Rpc.make("ExportPage", {
    payload: { ...owner, projectId: Schema.NullOr(PathId), after: Schema.NullOr(Schema.String), limit: Limit },
    success: Schema.Struct({ tasks: Schema.Array(Task), last: Schema.NullOr(Schema.String) }),
    error: Schema.Union(ProjectNotFound, DependencyUnavailable)
  }),
  Rpc.make("Ready", { success: Readiness })
) {}
