import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import type { HttpMethod } from "@effect/platform/HttpMethod"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import * as ApiError from "./ApiError.ts"
import { Authentication } from "./Auth.ts"
import { Page, PageQuery } from "./Common.ts"
import { Comment, CommentListQuery, CreateCommentRequest, UpdateCommentRequest } from "./Comment.ts"
import {
  CommentNotFound,
  Conflict,
  DependencyUnavailable,
  EmailTaken,
  ExportNotFound,
  ExportNotReady,
  Forbidden,
  InvalidCredentials,
  InvalidRefreshToken,
  MemberNotFound,
  NotificationNotFound,
  PayloadTooLarge,
  ProjectNotFound,
  RateLimited,
  TaskNotFound,
  TokenReused,
  Unauthorized,
  UnsupportedMediaType,
  UpgradeRequired,
  UserNotFound,
  ValidationFailed,
  VersionConflict
} from "./Errors.ts"
import { CreateExportRequest, Export, ExportAccepted } from "./Export.ts"
import { GatewayReadiness, Liveness } from "./Health.ts"
import { exampleId, pathIdOf } from "./Ids.ts"
import { idempotentPost } from "./Idempotency.ts"
import { AddMemberRequest, ChangeRoleRequest, Member, MemberListQuery, TransferRequest } from "./Member.ts"
import { BulkQuery, LatestQuery, Notification, NotificationListQuery, UnreadCount } from "./Notification.ts"
import { finishDocument } from "./OpenApiDocument.ts"
import { Preferences } from "./Preferences.ts"
import { CreateProjectRequest, Project, UpdateProjectRequest } from "./Project.ts"
import { CreateTaskRequest, IfMatchHeader, PatchTaskRequest, ReplaceTaskRequest, Task, TaskListQuery } from "./Task.ts"
import {
  Jwks,
  LoginRequest,
  RefreshRequest,
  RegisterRequest,
  RegisterResponse,
  TokenPair,
  UpdateProfileRequest,
  User
} from "./User.ts"

/** `{id}` of a path, for one kind of resource. */
const idPath = (prefix: string, noun: string) => Schema.Struct({ id: pathIdOf(prefix, noun) })
const ProjectPath = idPath("prj", "project")
const TaskPath = idPath("tsk", "task")
const CommentPath = idPath("cmt", "comment")
const NotificationPath = idPath("ntf", "notification")
const ExportPath = idPath("exp", "export")
const MemberPath = Schema.Struct({ id: pathIdOf("prj", "project"), userId: pathIdOf("usr", "member's user") })

/** What the OpenAPI document says of an operation: a summary line and a description for a person. */
const doc = (summary: string, description: string) => OpenApi.annotations({ summary, description })

const Invalid = ApiError.http(ValidationFailed)
const TooLarge = ApiError.http(PayloadTooLarge)
const NotJson = ApiError.http(UnsupportedMediaType)
const Limited = ApiError.http(RateLimited)
const Unavailable = ApiError.http(DependencyUnavailable)

/** An operation with parameters: they may fail validation (400). */
const validated = <Name extends string, Method extends HttpMethod, P, U, B, H, S, E, R, RE>(
  endpoint: HttpApiEndpoint.HttpApiEndpoint<Name, Method, P, U, B, H, S, E, R, RE>
) => endpoint.addError(Invalid)

/** An operation with a JSON body: 400 when it does not validate, 413 over 1 MiB, 415 when it is not JSON. */
const takesJson = <Name extends string, Method extends HttpMethod, P, U, B, H, S, E, R, RE>(
  endpoint: HttpApiEndpoint.HttpApiEndpoint<Name, Method, P, U, B, H, S, E, R, RE>
) => endpoint.addError(Invalid).addError(TooLarge).addError(NotJson)

/** `/ready` answers 503 with the same report when a dependency is down. */
export const NotReady = GatewayReadiness.annotations({
  ...HttpApiSchema.annotations({ status: 503 }),
  identifier: "NotReady",
  description: "A service or dependency is down; the report says which",
  examples: [{
    status: "unavailable",
    checks: {
      redis: { status: "up", latencyMs: 1 },
      users: { status: "up", latencyMs: 4 },
      tasks: { status: "down", latencyMs: 2001, error: "not answering" },
      notifications: { status: "up", latencyMs: 5 }
    }
  }]
})

export class SystemApi extends HttpApiGroup.make("system")
  .add(
    HttpApiEndpoint.get("health", "/health")
      .addSuccess(Liveness)
      .annotateContext(doc("Liveness", "Answers 200 while the gateway process is alive, whatever the state of its dependencies. Not rate-limited."))
  )
  .add(
    HttpApiEndpoint.get("ready", "/ready")
      .addSuccess(GatewayReadiness)
      .addError(NotReady)
      .annotateContext(doc(
        "Readiness",
        "Probes every service and dependency the gateway needs, each with a deadline, and answers 200 when all are up, " +
          "503 with the same per-dependency report otherwise. Not rate-limited."
      ))
  )
  .add(
    HttpApiEndpoint.get("jwks", "/.well-known/jwks.json")
      .addSuccess(Jwks)
      .addError(Limited)
      .addError(Unavailable)
      .annotateContext(doc(
        "Token signing keys",
        "The public keys (JWKS) that verify Herald's access tokens, for services that check tokens themselves. " +
          "Tokens name their key in the `kid` header."
      ))
  )
  .annotate(OpenApi.Description, "Liveness, readiness and the keys that verify access tokens")
{}

export class AuthApi extends HttpApiGroup.make("auth")
  .add(
    idempotentPost("register", "/api/users/register")
      .setPayload(RegisterRequest)
      .addSuccess(RegisterResponse, { status: 201 })
      .pipe(takesJson)
      .addError(ApiError.http(EmailTaken))
      .annotateContext(doc(
        "Create an account",
        "Registers a new user. The email is trimmed and lower-cased and must not be in use yet (409). The password " +
          "must be 8 to 72 bytes: longer ones are refused, never silently truncated. Log in afterwards for tokens. " +
          "Limited more strictly than other routes, per client address and per email."
      ))
  )
  .add(
    HttpApiEndpoint.post("login", "/api/users/login")
      .setPayload(LoginRequest)
      .addSuccess(TokenPair)
      .pipe(takesJson)
      .addError(ApiError.http(InvalidCredentials))
      .annotateContext(doc(
        "Log in",
        "Trades an email and password for an access token (a JWT, valid for 15 minutes by default) and a refresh token. " +
          "A wrong email and a wrong password get the same 401 in about the same time. Limited more strictly than " +
          "other routes, per client address and per email."
      ))
  )
  .add(
    HttpApiEndpoint.post("refresh", "/api/users/refresh")
      .setPayload(RefreshRequest)
      .addSuccess(TokenPair)
      .pipe(takesJson)
      .addError(ApiError.http(InvalidRefreshToken))
      .addError(ApiError.http(TokenReused))
      .annotateContext(doc(
        "Renew the tokens",
        "Trades a refresh token for a new token pair; the old refresh token is spent. Presenting a spent one again " +
          "revokes every token of that login (someone else may hold a copy) and answers 401."
      ))
  )
  .addError(Limited)
  .addError(Unavailable)
  .annotate(OpenApi.Description, "Accounts and tokens")
{}

export class UsersApi extends HttpApiGroup.make("users")
  .add(
    HttpApiEndpoint.post("logout", "/api/users/logout")
      .setPayload(RefreshRequest)
      .addSuccess(HttpApiSchema.NoContent)
      .pipe(takesJson)
      .annotateContext(doc(
        "Log out",
        "Revokes the login the refresh token belongs to: its refresh tokens stop working at once and its access " +
          "tokens are refused from then on."
      ))
  )
  .add(
    HttpApiEndpoint.get("profile", "/api/users/profile")
      .addSuccess(User)
      .addError(ApiError.http(UserNotFound))
      .annotateContext(doc("Your profile", "The caller's own profile: id, email, name and when it was created and last changed."))
  )
  .add(
    HttpApiEndpoint.patch("updateProfile", "/api/users/profile")
      .setPayload(UpdateProfileRequest)
      .addSuccess(User)
      .pipe(takesJson)
      .addError(ApiError.http(UserNotFound))
      .annotateContext(doc("Change your profile", "Renames the caller; the updated profile is answered and served from then on."))
  )
  .add(
    HttpApiEndpoint.get("preferences", "/api/users/preferences")
      .addSuccess(Preferences)
      .annotateContext(doc("Your notification preferences", "The caller's notification preferences (every channel on, no exceptions, until set)."))
  )
  .add(
    HttpApiEndpoint.put("replacePreferences", "/api/users/preferences")
      .setPayload(Preferences)
      .addSuccess(Preferences)
      .pipe(takesJson)
      .annotateContext(doc(
        "Replace your notification preferences",
        "Replaces the caller's preferences; the next event delivered follows them. 400 on an unknown channel, type or " +
          "field, a time that is not HH:MM, or a time zone that is not IANA. Critical types (security.session_revoked, " +
          "export.failed) cannot be turned off in-app: `types.<critical>.in_app: false` is refused with 400, and " +
          "`channels.in_app: false` leaves them on in-app. In-app delivery: a type is stored when it is critical, or " +
          "when `channels.in_app` is on and `types.<type>.in_app` is not false. `email`, `webhook`, `digest` and " +
          "`quietHours` are recorded for the email and webhook channels."
      ))
  )
  .middleware(Authentication)
  .addError(Limited)
  .addError(Unavailable)
  .annotate(OpenApi.Description, "The caller's own account")
{}

export class ProjectsApi extends HttpApiGroup.make("projects")
  .add(
    idempotentPost("create", "/api/projects")
      .setPayload(CreateProjectRequest)
      .addSuccess(Project, { status: 201 })
      .pipe(takesJson)
      .annotateContext(doc("Create a project", "Creates a project owned by the caller, with no tasks yet."))
  )
  .add(
    HttpApiEndpoint.get("list", "/api/projects")
      .setUrlParams(Schema.Struct(PageQuery))
      .addSuccess(Page(Project, "A page of the caller's projects, newest first"))
      .pipe(validated)
      .annotateContext(doc(
        "List your projects",
        "The caller's projects, newest first, a page at a time: pass `nextCursor` back as `?cursor=` for the next page."
      ))
  )
  .add(
    HttpApiEndpoint.get("get", "/api/projects/:id")
      .setPath(ProjectPath)
      .addSuccess(Project)
      .pipe(validated)
      .addError(ApiError.http(ProjectNotFound))
      .annotateContext(doc(
        "Get a project",
        "One project with its task counts by status (kept up to date from task events, so a change shows within " +
          "moments). Someone else's project is a 404, as if it did not exist."
      ))
  )
  .add(
    HttpApiEndpoint.patch("update", "/api/projects/:id")
      .setPath(ProjectPath)
      .setPayload(UpdateProjectRequest)
      .addSuccess(Project)
      .pipe(takesJson)
      .addError(ApiError.http(ProjectNotFound))
      .addError(ApiError.http(Forbidden))
      .annotateContext(doc(
        "Change a project",
        "Renames a project or changes its description; fields left out keep their value. The owner and editors may; " +
          "members are told of a rename (`project.updated`)."
      ))
  )
  .add(
    HttpApiEndpoint.del("delete", "/api/projects/:id")
      .setPath(ProjectPath)
      .addSuccess(HttpApiSchema.NoContent)
      .pipe(validated)
      .addError(ApiError.http(ProjectNotFound))
      .addError(ApiError.http(Forbidden))
      .annotateContext(doc(
        "Delete a project",
        "The owner only. Deletes the project and all its tasks; every member is told (`project.deleted`)."
      ))
  )
  .add(
    HttpApiEndpoint.get("members", "/api/projects/:id/members")
      .setPath(ProjectPath)
      .setUrlParams(MemberListQuery)
      .addSuccess(Page(Member, "A page of the project's members, the owner first, then by when they were added"))
      .pipe(validated)
      .addError(ApiError.http(ProjectNotFound))
      .annotateContext(doc("List a project's members", "Every member may list the members with their roles, a page at a time."))
  )
  .add(
    idempotentPost("addMember", "/api/projects/:id/members")
      .setPath(ProjectPath)
      .setPayload(AddMemberRequest)
      .addSuccess(Member, { status: 201 })
      .pipe(takesJson)
      .addError(ApiError.http(ProjectNotFound))
      .addError(ApiError.http(Forbidden))
      .addError(ApiError.http(UserNotFound))
      .addError(ApiError.http(Conflict))
      .annotateContext(doc(
        "Add a member",
        "The owner only. Adds the person with this email, who must have an account (404 otherwise), with a role " +
          "(`editor` or `viewer`); already a member: 409. They are told (`project.member_added`)."
      ))
  )
  .add(
    HttpApiEndpoint.patch("changeMember", "/api/projects/:id/members/:userId")
      .setPath(MemberPath)
      .setPayload(ChangeRoleRequest)
      .addSuccess(Member)
      .pipe(takesJson)
      .addError(ApiError.http(ProjectNotFound))
      .addError(ApiError.http(Forbidden))
      .addError(ApiError.http(MemberNotFound))
      .addError(ApiError.http(Conflict))
      .annotateContext(doc(
        "Change a member's role",
        "The owner only. Makes a member an editor or a viewer; the owner's own role changes only by a transfer (409)."
      ))
  )
  .add(
    HttpApiEndpoint.del("removeMember", "/api/projects/:id/members/:userId")
      .setPath(MemberPath)
      .addSuccess(HttpApiSchema.NoContent)
      .pipe(validated)
      .addError(ApiError.http(ProjectNotFound))
      .addError(ApiError.http(Forbidden))
      .addError(ApiError.http(MemberNotFound))
      .addError(ApiError.http(Conflict))
      .annotateContext(doc(
        "Remove a member, or leave",
        "The owner removes a member, or a member leaves (their own user id). The owner cannot leave (409): transfer " +
          "the project first. A removed member loses access and stops being notified at once."
      ))
  )
  .add(
    HttpApiEndpoint.post("transfer", "/api/projects/:id/transfer")
      .setPath(ProjectPath)
      .setPayload(TransferRequest)
      .addSuccess(Project)
      .pipe(takesJson)
      .addError(ApiError.http(ProjectNotFound))
      .addError(ApiError.http(Forbidden))
      .addError(ApiError.http(MemberNotFound))
      .annotateContext(doc(
        "Transfer ownership",
        "The owner only: another member becomes the owner, and the old owner an editor."
      ))
  )
  .middleware(Authentication)
  .addError(Limited)
  .addError(Unavailable)
  .annotate(OpenApi.Description, "Projects group tasks and count them by status")
{}

const createTask = <const Name extends string>(name: Name, path: `/${string}`) =>
  idempotentPost(name, path)
    .setPayload(CreateTaskRequest)
    .addSuccess(Task, { status: 201 })
    .pipe(takesJson)
    .addError(ApiError.http(ProjectNotFound))
    .addError(ApiError.http(Forbidden))

const changeTask = <Name extends string>(endpoint: HttpApiEndpoint.HttpApiEndpoint<Name, "PUT" | "PATCH">) =>
  endpoint
    .setPath(TaskPath)
    .setHeaders(IfMatchHeader)
    .addSuccess(Task)
    .addError(ApiError.http(TaskNotFound))
    .addError(ApiError.http(ProjectNotFound))
    .addError(ApiError.http(Forbidden))
    .addError(ApiError.http(VersionConflict))

const watchTask = <Name extends string>(endpoint: HttpApiEndpoint.HttpApiEndpoint<Name, "POST" | "DELETE">) =>
  endpoint.setPath(TaskPath).addSuccess(HttpApiSchema.NoContent).pipe(validated).addError(ApiError.http(TaskNotFound))

export class TasksApi extends HttpApiGroup.make("tasks")
  .add(
    createTask("create", "/api/tasks").annotateContext(doc(
      "Create a task",
      "Creates a task, private to the caller or in one of their projects (`projectId`; 404 if it is not theirs). " +
        "Only the title is required. A `task.created` event follows, and with it the notifications."
    ))
  )
  .add(
    createTask("upload", "/api/tasks/upload").annotateContext(doc(
      "Create a task (older path)",
      "The same as POST /api/tasks, kept for clients of the older platform."
    ))
  )
  .add(
    HttpApiEndpoint.get("list", "/api/tasks")
      .setUrlParams(TaskListQuery)
      .addSuccess(Page(Task, "A page of tasks, newest first"))
      .pipe(validated)
      .annotateContext(doc(
        "List your tasks",
        "The caller's tasks, newest first, optionally only those of one project or one status, a page at a time: " +
          "pass `nextCursor` back as `?cursor=` for the next page."
      ))
  )
  .add(
    HttpApiEndpoint.get("get", "/api/tasks/:id")
      .setPath(TaskPath)
      .addSuccess(Task)
      .pipe(validated)
      .addError(ApiError.http(TaskNotFound))
      .annotateContext(doc("Get a task", "One task. Someone else's task is a 404, as if it did not exist."))
  )
  .add(
    changeTask(HttpApiEndpoint.put("replace", "/api/tasks/:id"))
      .setPayload(ReplaceTaskRequest)
      .pipe(takesJson)
      .annotateContext(doc(
        "Replace a task",
        "Replaces every field of a task; fields left out take their defaults, as on creation. Its `version` goes up " +
          "by one. With `If-Match: <version>` the change applies only to that version (409 otherwise)."
      ))
  )
  .add(
    changeTask(HttpApiEndpoint.patch("patch", "/api/tasks/:id"))
      .setPayload(PatchTaskRequest)
      .pipe(takesJson)
      .annotateContext(doc(
        "Change a task",
        "Changes only the fields sent; its `version` goes up by one. With `If-Match: <version>` the change applies " +
          "only to that version (409 otherwise)."
      ))
  )
  .add(
    HttpApiEndpoint.del("delete", "/api/tasks/:id")
      .setPath(TaskPath)
      .setHeaders(IfMatchHeader)
      .addSuccess(HttpApiSchema.NoContent)
      .pipe(validated)
      .addError(ApiError.http(TaskNotFound))
      .addError(ApiError.http(Forbidden))
      .addError(ApiError.http(VersionConflict))
      .annotateContext(doc(
        "Delete a task",
        "Deletes a task; a `task.deleted` event follows. With `If-Match: <version>` only that version is deleted (409 otherwise)."
      ))
  )
  .add(
    watchTask(HttpApiEndpoint.post("watch", "/api/tasks/:id/watch")).annotateContext(doc(
      "Watch a task",
      "The caller is told of the task's changes and comments from now on. Creating, being assigned to or commenting " +
        "on a task also does this."
    ))
  )
  .add(
    watchTask(HttpApiEndpoint.del("unwatch", "/api/tasks/:id/watch")).annotateContext(doc(
      "Stop watching a task",
      "The caller is no longer told of the task's changes and comments (unless assigned to it or mentioned)."
    ))
  )
  .add(
    idempotentPost("comment", "/api/tasks/:id/comments")
      .setPath(TaskPath)
      .setPayload(CreateCommentRequest)
      .addSuccess(Comment, { status: 201 })
      .pipe(takesJson)
      .addError(ApiError.http(TaskNotFound))
      .annotateContext(doc(
        "Comment on a task",
        "Every member may comment. `@name` or `@email` of a member mentions them (a name two members share mentions " +
          "nobody: see `mentions`). The task's watchers, its assignee and the people mentioned are told."
      ))
  )
  .add(
    HttpApiEndpoint.get("comments", "/api/tasks/:id/comments")
      .setPath(TaskPath)
      .setUrlParams(CommentListQuery)
      .addSuccess(Page(Comment, "A page of the task's comments, oldest first"))
      .pipe(validated)
      .addError(ApiError.http(TaskNotFound))
      .annotateContext(doc("List a task's comments", "The task's comments, oldest first, a page at a time."))
  )
  .middleware(Authentication)
  .addError(Limited)
  .addError(Unavailable)
  .annotate(OpenApi.Description, "Tasks, private or in a project")
{}

export class CommentsApi extends HttpApiGroup.make("comments")
  .add(
    HttpApiEndpoint.patch("update", "/api/comments/:id")
      .setPath(CommentPath)
      .setPayload(UpdateCommentRequest)
      .addSuccess(Comment)
      .pipe(takesJson)
      .addError(ApiError.http(CommentNotFound))
      .addError(ApiError.http(Forbidden))
      .annotateContext(doc("Edit a comment", "The author only; its mentions are read again. Nobody is told of an edit."))
  )
  .add(
    HttpApiEndpoint.del("delete", "/api/comments/:id")
      .setPath(CommentPath)
      .addSuccess(HttpApiSchema.NoContent)
      .pipe(validated)
      .addError(ApiError.http(CommentNotFound))
      .addError(ApiError.http(Forbidden))
      .annotateContext(doc("Delete a comment", "The author, an editor or the owner of the project may delete a comment."))
  )
  .middleware(Authentication)
  .addError(Limited)
  .addError(Unavailable)
  .annotate(OpenApi.Description, "Comments on tasks")
{}

const listNotifications = <const Name extends string>(name: Name, path: `/${string}`) =>
  HttpApiEndpoint.get(name, path)
    .setUrlParams(NotificationListQuery)
    .addSuccess(Page(Notification, "A page of notifications, newest first"))
    .pipe(validated)

/** A change of one notification's state: 204, or 404 for another user's. */
const changeOne = <const Name extends string>(name: Name, path: `/${string}`, summary: string, description: string) =>
  HttpApiEndpoint.post(name, path)
    .setPath(NotificationPath)
    .addSuccess(HttpApiSchema.NoContent)
    .pipe(validated)
    .addError(ApiError.http(NotificationNotFound))
    .annotateContext(doc(summary, `${description}. Another user's notification is a 404.`))

/** A change of all the caller's notifications, or one project's (`?projectId=`). */
const changeAll = <const Name extends string>(name: Name, path: `/${string}`, summary: string, description: string) =>
  HttpApiEndpoint.post(name, path)
    .setUrlParams(BulkQuery)
    .addSuccess(HttpApiSchema.NoContent)
    .pipe(validated)
    .annotateContext(doc(summary, `${description}; with \`?projectId=\`, only that project's.`))

export class NotificationsApi extends HttpApiGroup.make("notifications")
  .add(
    listNotifications("list", "/api/notifications").annotateContext(doc(
      "List your notifications",
      "The caller's notifications, newest first, optionally only the unread (or read) ones, a page at a time: pass " +
        "`nextCursor` back as `?cursor=` for the next page."
    ))
  )
  .add(
    listNotifications("getAll", "/api/notifications/get-all").annotateContext(doc(
      "List your notifications (older path)",
      "The same as GET /api/notifications, kept for clients of the older platform."
    ))
  )
  .add(
    HttpApiEndpoint.get("latest", "/api/notifications/latest")
      .setUrlParams(LatestQuery)
      .addSuccess(Schema.Struct({ items: Schema.Array(Notification) }).annotations({ description: "The newest notifications, newest first" }))
      .pipe(validated)
      .annotateContext(doc("Your newest notifications", "The few newest notifications of the caller (10 unless `?limit=` says otherwise), without paging."))
  )
  .add(
    HttpApiEndpoint.get("unreadCount", "/api/notifications/unread-count")
      .addSuccess(UnreadCount)
      .annotateContext(doc(
        "Count your unread and unseen notifications",
        "The badge numbers, among notifications that are not archived; `count` equals `unread` (older clients read it)."
      ))
  )
  .add(changeOne("markRead", "/api/notifications/:id/read", "Mark a notification read", "Marks it read (and seen); `readAt` is set"))
  .add(changeOne("markUnread", "/api/notifications/:id/unread", "Mark a notification unread", "Marks it unread; `readAt` becomes null"))
  .add(changeOne("archive", "/api/notifications/:id/archive", "Archive a notification", "Archives it: left out of lists and counts unless `archived=true`"))
  .add(changeOne("unarchive", "/api/notifications/:id/unarchive", "Unarchive a notification", "Brings it back to the inbox"))
  .add(
    HttpApiEndpoint.del("delete", "/api/notifications/:id")
      .setPath(NotificationPath)
      .addSuccess(HttpApiSchema.NoContent)
      .pipe(validated)
      .addError(ApiError.http(NotificationNotFound))
      .annotateContext(doc("Delete a notification", "Deletes one of the caller's notifications. Another user's notification is a 404."))
  )
  .add(changeAll("readAll", "/api/notifications/read-all", "Mark every notification read", "Marks every unread notification read (and seen)"))
  .add(changeAll("seenAll", "/api/notifications/seen-all", "Mark every notification seen", "Marks every notification seen (the badge's unseen count drops to 0)"))
  .add(changeAll("archiveAll", "/api/notifications/archive-all", "Archive every notification", "Archives every notification"))
  .middleware(Authentication)
  .addError(Limited)
  .addError(Unavailable)
  .annotate(OpenApi.Description, "What happened to the caller's work")
{}

/** The WebSocket stream authenticates itself: browsers cannot set `Authorization` on a WebSocket. */
export class StreamApi extends HttpApiGroup.make("stream")
  .add(
    HttpApiEndpoint.get("stream", "/api/notifications/stream")
      .setUrlParams(
        Schema.Struct({
          access_token: Schema.optional(Schema.String.annotations({
            description: "The access token, for clients that cannot set the `Sec-WebSocket-Protocol` header; never logged",
            examples: ["eyJhbGciOiJFZERTQSIsImtpZCI6ImhlcmFsZC0xIn0.eyJzdWIiOiJ1c3JfMDFKOVozWVE3S1dSQzhWMlQ1WDBGOE00UEQifQ.c2lnbmF0dXJl"]
          })),
          since: Schema.optional(pathIdOf("ntf", "notification").annotations({
            description: "Replay first what was stored after this notification (the last one the client saw)"
          }))
        })
      )
      .addSuccess(HttpApiSchema.Empty(101).annotations({ description: "Switching to the WebSocket protocol" }))
      .pipe(validated)
      .addError(ApiError.http(Unauthorized))
      .addError(ApiError.http(UpgradeRequired))
      .annotateContext(doc(
        "Real-time notifications (WebSocket)",
        "Upgrade to a WebSocket to be pushed the caller's new notifications. Authenticate with " +
          "`Sec-WebSocket-Protocol: bearer, <accessToken>` or `?access_token=`. Text frames carry JSON: " +
          "`{type:\"ready\",unreadCount}` and `{type:\"counts\",unread,unseen}` first, then " +
          "`{type:\"notification\",notification,unreadCount}` for each new notification (sent at once; `unreadCount` is " +
          "the stream's last count plus one), `{type:\"counts\",unread,unseen}` whenever either stored count changes (after " +
          "each new notification too, and on any of the user's devices), and `{type:\"heartbeat\",at}` now and then. " +
          "`?since=<notification id>` first replays what was stored after that id, for a client that reconnects."
      ))
  )
  .addError(Limited)
  .addError(Unavailable)
  .annotate(OpenApi.Description, "Real-time push of new notifications")
{}

export class ExportsApi extends HttpApiGroup.make("exports")
  .add(
    idempotentPost("create", "/api/exports")
      .setPayload(CreateExportRequest)
      .addSuccess(ExportAccepted, { status: 202 })
      .pipe(takesJson)
      .addError(ApiError.http(ProjectNotFound))
      .annotateContext(doc(
        "Export your tasks",
        "Queues an export of the caller's tasks (or one project's) to a CSV or JSON file, made in the background. " +
          "Poll GET /api/exports/{id}, or wait for the `export.completed` notification, then download it."
      ))
  )
  .add(
    HttpApiEndpoint.get("get", "/api/exports/:id")
      .setPath(ExportPath)
      .addSuccess(Export)
      .pipe(validated)
      .addError(ApiError.http(ExportNotFound))
      .annotateContext(doc("Get an export", "Where an export stands: pending, running, completed (ready to download) or failed."))
  )
  .add(
    HttpApiEndpoint.get("download", "/api/exports/:id/download")
      .setPath(ExportPath)
      .addSuccess(
        HttpApiSchema.Text({ contentType: "text/csv" }).annotations({
          description: "The file, as an attachment (`text/csv`, or `application/json` for a JSON export)",
          examples: [`id,projectId,title,description,priority,status,dueDate,version,createdAt,updatedAt\n${exampleId("tsk")},,Write the README,,high,todo,,1,2030-01-31T12:00:00.000Z,2030-01-31T12:00:00.000Z\n`]
        })
      )
      .pipe(validated)
      .addError(ApiError.http(ExportNotFound))
      .addError(ApiError.http(ExportNotReady))
      .annotateContext(doc(
        "Download an export",
        "The exported file, once the export is completed (409 before). Files expire some time after completion."
      ))
  )
  .middleware(Authentication)
  .addError(Limited)
  .addError(Unavailable)
  .annotate(OpenApi.Description, "Files of the caller's tasks, made in the background")
{}

/** The public REST API of Herald: the contract of API.md, from which handlers, validation and OpenAPI derive. */
export class HeraldApi extends HttpApi.make("herald")
  .add(SystemApi)
  .add(AuthApi)
  .add(UsersApi)
  .add(ProjectsApi)
  .add(TasksApi)
  .add(CommentsApi)
  .add(NotificationsApi)
  .add(StreamApi)
  .add(ExportsApi)
  .annotate(OpenApi.Title, "Herald API")
  .annotate(OpenApi.Transform, finishDocument)
  .annotate(OpenApi.Version, "1.0.0")
  .annotate(
    OpenApi.Description,
    "Tasks, projects and real-time notifications. Send and expect JSON; protected operations need " +
      "`Authorization: Bearer <accessToken>` from POST /api/users/login. Errors always have the shape " +
      "`{ \"error\": { \"code\", \"message\", \"details\"? } }`. Every response carries `X-Request-Id`; rate-limited " +
      "responses carry `RateLimit` and `RateLimit-Policy`."
  )
{}
