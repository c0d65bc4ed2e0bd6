import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import { Cursor, Page } from "./Common.ts"
import { Comment, CreateCommentRequest } from "./Comment.ts"
import {
  CommentNotFound,
  Conflict,
  DependencyUnavailable,
  Forbidden,
  MemberNotFound,
  ProjectNotFound,
  TaskNotFound,
  UserNotFound,
  ValidationFailed,
  VersionConflict
} from "./Errors.ts"
import { Readiness } from "./Health.ts"
import { PathId, UserId } from "./Ids.ts"
import { Member, MemberRole } from "./Member.ts"
import { CreateProjectRequest, Project, UpdateProjectRequest } from "./Project.ts"
import { CreateTaskRequest, PatchTaskRequest, ReplaceTaskRequest, Task, TaskListQuery } from "./Task.ts"

const owner = { userId: UserId }
const Limit = Schema.Int.pipe(Schema.between(1, 1000))

/**
 * The tasks service: shared projects, their members and tasks, and comments, named by the ids clients gave. The
 * caller's role decides: what a non-member asks for does not exist (404), what their role does not allow is 403.
 */
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
    error: Schema.Union(ProjectNotFound, Forbidden, DependencyUnavailable)
  }),
  Rpc.make("DeleteProject", {
    payload: { ...owner, projectId: PathId },
    error: Schema.Union(ProjectNotFound, Forbidden, DependencyUnavailable)
  }),
  Rpc.make("ListMembers", {
    payload: { ...owner, projectId: PathId, limit: Limit, cursor: Schema.optional(Cursor) },
    success: Page(Member),
    error: Schema.Union(ProjectNotFound, ValidationFailed, DependencyUnavailable)
  }),
  Rpc.make("AddMember", {
    payload: { ...owner, projectId: PathId, email: Schema.String, role: MemberRole },
    success: Member,
    error: Schema.Union(ProjectNotFound, Forbidden, UserNotFound, Conflict, DependencyUnavailable)
  }),
  Rpc.make("ChangeMemberRole", {
    payload: { ...owner, projectId: PathId, memberId: PathId, role: MemberRole },
    success: Member,
    error: Schema.Union(ProjectNotFound, Forbidden, MemberNotFound, Conflict, DependencyUnavailable)
  }),
  Rpc.make("RemoveMember", {
    payload: { ...owner, projectId: PathId, memberId: PathId },
    error: Schema.Union(ProjectNotFound, Forbidden, MemberNotFound, Conflict, DependencyUnavailable)
  }),
  Rpc.make("TransferProject", {
    payload: { ...owner, projectId: PathId, memberId: PathId },
    success: Project,
    error: Schema.Union(ProjectNotFound, Forbidden, MemberNotFound, DependencyUnavailable)
  }),
  Rpc.make("CreateTask", {
    /** `requestKey`: the hashed `Idempotency-Key`, so a create retried after a lost answer makes no second task. */
    payload: { ...owner, task: CreateTaskRequest, requestKey: Schema.optional(Schema.String.pipe(Schema.maxLength(128))) },
    success: Task,
    error: Schema.Union(ProjectNotFound, Forbidden, ValidationFailed, DependencyUnavailable)
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
    error: Schema.Union(TaskNotFound, ProjectNotFound, Forbidden, ValidationFailed, VersionConflict, DependencyUnavailable)
  }),
  Rpc.make("PatchTask", {
    payload: { ...owner, taskId: PathId, patch: PatchTaskRequest, ifMatch: Schema.optional(Schema.Int) },
    success: Task,
    error: Schema.Union(TaskNotFound, ProjectNotFound, Forbidden, ValidationFailed, VersionConflict, DependencyUnavailable)
  }),
  Rpc.make("DeleteTask", {
    payload: { ...owner, taskId: PathId, ifMatch: Schema.optional(Schema.Int) },
    error: Schema.Union(TaskNotFound, Forbidden, VersionConflict, DependencyUnavailable)
  }),
  Rpc.make("WatchTask", {
    payload: { ...owner, taskId: PathId, watching: Schema.Boolean },
    error: Schema.Union(TaskNotFound, DependencyUnavailable)
  }),
  Rpc.make("CreateComment", {
    payload: { ...owner, taskId: PathId, comment: CreateCommentRequest },
    success: Comment,
    error: Schema.Union(TaskNotFound, DependencyUnavailable)
  }),
  Rpc.make("ListComments", {
    payload: { ...owner, taskId: PathId, limit: Limit, cursor: Schema.optional(Cursor) },
    success: Page(Comment),
    error: Schema.Union(TaskNotFound, ValidationFailed, DependencyUnavailable)
  }),
  Rpc.make("UpdateComment", {
    payload: { ...owner, commentId: PathId, comment: CreateCommentRequest },
    success: Comment,
    error: Schema.Union(CommentNotFound, Forbidden, DependencyUnavailable)
  }),
  Rpc.make("DeleteComment", {
    payload: { ...owner, commentId: PathId },
    error: Schema.Union(CommentNotFound, Forbidden, DependencyUnavailable)
  }),
  /** Oldest first, for exports: one page after `after` (a task id), so a worker streams any number of tasks. */
  Rpc.make("ExportPage", {
    payload: { ...owner, projectId: Schema.NullOr(PathId), after: Schema.NullOr(Schema.String), limit: Limit },
    success: Schema.Struct({ tasks: Schema.Array(Task), last: Schema.NullOr(Schema.String) }),
    error: Schema.Union(ProjectNotFound, DependencyUnavailable)
  }),
  Rpc.make("Ready", { success: Readiness })
) {}
