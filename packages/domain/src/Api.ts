import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import * as ApiError from "./ApiError.ts"
import { Authentication } from "./Auth.ts"
import { Page, PageQuery } from "./Common.ts"
import {
  DependencyUnavailable,
  EmailTaken,
  ExportNotFound,
  ExportNotReady,
  InternalError,
  InvalidCredentials,
  InvalidRefreshToken,
  NotificationNotFound,
  PayloadTooLarge,
  ProjectNotFound,
  RateLimited,
  TaskNotFound,
  TokenReused,
  Unauthorized,
  UnsupportedMediaType,
  UserNotFound,
  ValidationFailed,
  VersionConflict
} from "./Errors.ts"
import { CreateExportRequest, Export, ExportAccepted } from "./Export.ts"
import { Liveness, Readiness } from "./Health.ts"
import { idempotentPost } from "./Idempotency.ts"
import { PathId } from "./Ids.ts"
import { BulkQuery, LatestQuery, Notification, NotificationListQuery, UnreadCount } from "./Notification.ts"
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

const IdPath = Schema.Struct({ id: PathId })

/** `/ready` answers 503 with this same report when a dependency is down. */
export const NotReady = Readiness.annotations(HttpApiSchema.annotations({ status: 503 }))

export class SystemApi extends HttpApiGroup.make("system")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Liveness))
  .add(HttpApiEndpoint.get("ready", "/ready").addSuccess(Readiness).addError(NotReady))
  .add(HttpApiEndpoint.get("jwks", "/.well-known/jwks.json").addSuccess(Jwks))
  .annotate(OpenApi.Description, "Liveness, readiness and the keys that verify access tokens")
{}

export class AuthApi extends HttpApiGroup.make("auth")
  .add(
    idempotentPost("register", "/api/users/register")
      .setPayload(RegisterRequest)
      .addSuccess(RegisterResponse, { status: 201 })
      .addError(ApiError.http(EmailTaken))
  )
  .add(
    HttpApiEndpoint.post("login", "/api/users/login")
      .setPayload(LoginRequest)
      .addSuccess(TokenPair)
      .addError(ApiError.http(InvalidCredentials))
  )
  .add(
    HttpApiEndpoint.post("refresh", "/api/users/refresh")
      .setPayload(RefreshRequest)
      .addSuccess(TokenPair)
      .addError(ApiError.http(InvalidRefreshToken))
      .addError(ApiError.http(TokenReused))
  )
  .annotate(OpenApi.Description, "Accounts and tokens")
{}

export class UsersApi extends HttpApiGroup.make("users")
  .add(HttpApiEndpoint.post("logout", "/api/users/logout").setPayload(RefreshRequest).addSuccess(HttpApiSchema.NoContent))
  .add(HttpApiEndpoint.get("profile", "/api/users/profile").addSuccess(User).addError(ApiError.http(UserNotFound)))
  .add(
    HttpApiEndpoint.patch("updateProfile", "/api/users/profile")
      .setPayload(UpdateProfileRequest)
      .addSuccess(User)
      .addError(ApiError.http(UserNotFound))
  )
  .add(
    HttpApiEndpoint.get("preferences", "/api/users/preferences")
      .addSuccess(Preferences)
      .annotate(OpenApi.Description, "The caller's notification preferences (every channel on, no exceptions, until set)")
  )
  .add(
    HttpApiEndpoint.put("replacePreferences", "/api/users/preferences")
      .setPayload(Preferences)
      .addSuccess(Preferences)
      .annotate(
        OpenApi.Description,
        "Replaces the caller's preferences; the next event delivered follows them. 400 on an unknown channel, type or " +
          "field, a time that is not HH:MM, or a time zone that is not IANA. Critical types (security.session_revoked, " +
          "export.failed) cannot be turned off in-app: `types.<critical>.in_app: false` is refused with 400, and " +
          "`channels.in_app: false` leaves them on in-app. In-app delivery: a type is stored when it is critical, or " +
          "when `channels.in_app` is on and `types.<type>.in_app` is not false. `email`, `webhook`, `digest` and " +
          "`quietHours` are recorded for the email and webhook channels."
      )
  )
  .middleware(Authentication)
{}

export class ProjectsApi extends HttpApiGroup.make("projects")
  .add(
    idempotentPost("create", "/api/projects")
      .setPayload(CreateProjectRequest)
      .addSuccess(Project, { status: 201 })
  )
  .add(HttpApiEndpoint.get("list", "/api/projects").setUrlParams(Schema.Struct(PageQuery)).addSuccess(Page(Project)))
  .add(HttpApiEndpoint.get("get", "/api/projects/:id").setPath(IdPath).addSuccess(Project).addError(ApiError.http(ProjectNotFound)))
  .add(
    HttpApiEndpoint.patch("update", "/api/projects/:id")
      .setPath(IdPath)
      .setPayload(UpdateProjectRequest)
      .addSuccess(Project)
      .addError(ApiError.http(ProjectNotFound))
  )
  .add(
    HttpApiEndpoint.del("delete", "/api/projects/:id")
      .setPath(IdPath)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(ApiError.http(ProjectNotFound))
  )
  .middleware(Authentication)
{}

const createTask = <const Name extends string>(name: Name, path: `/${string}`) =>
  idempotentPost(name, path)
    .setPayload(CreateTaskRequest)
    .addSuccess(Task, { status: 201 })
    .addError(ApiError.http(ProjectNotFound))

const changeTask = <Name extends string>(endpoint: HttpApiEndpoint.HttpApiEndpoint<Name, "PUT" | "PATCH">) =>
  endpoint
    .setPath(IdPath)
    .setHeaders(IfMatchHeader)
    .addSuccess(Task)
    .addError(ApiError.http(TaskNotFound))
    .addError(ApiError.http(ProjectNotFound))
    .addError(ApiError.http(VersionConflict))

export class TasksApi extends HttpApiGroup.make("tasks")
  .add(createTask("create", "/api/tasks"))
  .add(
    createTask("upload", "/api/tasks/upload").annotate(
      OpenApi.Description,
      "Alias of POST /api/tasks, kept for clients of the older platform"
    )
  )
  .add(HttpApiEndpoint.get("list", "/api/tasks").setUrlParams(TaskListQuery).addSuccess(Page(Task)))
  .add(HttpApiEndpoint.get("get", "/api/tasks/:id").setPath(IdPath).addSuccess(Task).addError(ApiError.http(TaskNotFound)))
  .add(changeTask(HttpApiEndpoint.put("replace", "/api/tasks/:id")).setPayload(ReplaceTaskRequest))
  .add(changeTask(HttpApiEndpoint.patch("patch", "/api/tasks/:id")).setPayload(PatchTaskRequest))
  .add(
    HttpApiEndpoint.del("delete", "/api/tasks/:id")
      .setPath(IdPath)
      .setHeaders(IfMatchHeader)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(ApiError.http(TaskNotFound))
      .addError(ApiError.http(VersionConflict))
  )
  .middleware(Authentication)
{}

const listNotifications = <const Name extends string>(name: Name, path: `/${string}`) =>
  HttpApiEndpoint.get(name, path).setUrlParams(NotificationListQuery).addSuccess(Page(Notification))

const changeOne = <const Name extends string>(name: Name, path: `/${string}`, description: string) =>
  HttpApiEndpoint.post(name, path)
    .setPath(IdPath)
    .addSuccess(HttpApiSchema.NoContent)
    .addError(ApiError.http(NotificationNotFound))
    .annotate(OpenApi.Description, `${description}. Another user's notification: 404.`)

const changeAll = <const Name extends string>(name: Name, path: `/${string}`, description: string) =>
  HttpApiEndpoint.post(name, path)
    .setUrlParams(BulkQuery)
    .addSuccess(HttpApiSchema.NoContent)
    .annotate(OpenApi.Description, `${description}; with \`?projectId=\`, only that project's.`)

export class NotificationsApi extends HttpApiGroup.make("notifications")
  .add(listNotifications("list", "/api/notifications"))
  .add(
    listNotifications("getAll", "/api/notifications/get-all").annotate(
      OpenApi.Description,
      "Alias of GET /api/notifications, kept for clients of the older platform"
    )
  )
  .add(
    HttpApiEndpoint.get("latest", "/api/notifications/latest")
      .setUrlParams(LatestQuery)
      .addSuccess(Schema.Struct({ items: Schema.Array(Notification) }))
  )
  .add(
    HttpApiEndpoint.get("unreadCount", "/api/notifications/unread-count").addSuccess(UnreadCount).annotate(
      OpenApi.Description,
      "Unread and unseen notifications among those not archived; `count` equals `unread` (older clients read it)"
    )
  )
  .add(changeOne("markRead", "/api/notifications/:id/read", "Marks it read (and seen); `readAt` is set"))
  .add(changeOne("markUnread", "/api/notifications/:id/unread", "Marks it unread; `readAt` becomes null"))
  .add(changeOne("archive", "/api/notifications/:id/archive", "Archives it: left out of lists and counts unless `archived=true`"))
  .add(changeOne("unarchive", "/api/notifications/:id/unarchive", "Brings it back to the inbox"))
  .add(
    HttpApiEndpoint.del("delete", "/api/notifications/:id")
      .setPath(IdPath)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(ApiError.http(NotificationNotFound))
  )
  .add(changeAll("readAll", "/api/notifications/read-all", "Marks every unread notification read (and seen)"))
  .add(changeAll("seenAll", "/api/notifications/seen-all", "Marks every notification seen (the badge's unseen count drops to 0)"))
  .add(changeAll("archiveAll", "/api/notifications/archive-all", "Archives every notification"))
  .middleware(Authentication)
{}

/** The WebSocket stream authenticates itself: browsers cannot set `Authorization` on a WebSocket. */
export class StreamApi extends HttpApiGroup.make("stream")
  .add(
    HttpApiEndpoint.get("stream", "/api/notifications/stream")
      .setUrlParams(
        Schema.Struct({
          access_token: Schema.optional(Schema.String),
          since: Schema.optional(PathId)
        })
      )
      .addSuccess(HttpApiSchema.Empty(101))
      .addError(ApiError.http(Unauthorized))
      .annotate(
        OpenApi.Description,
        "WebSocket. Authenticate with `Sec-WebSocket-Protocol: bearer, <accessToken>` or `?access_token=`. " +
          "Text frames carry JSON: `{type:\"ready\",unreadCount}` and `{type:\"counts\",unread,unseen}`, then " +
          "`{type:\"notification\",notification,unreadCount}`, `{type:\"counts\",unread,unseen}` whenever either " +
          "count changes (a new notification, read, unread, seen, archive, delete, read-all...), and `{type:\"heartbeat\",at}`. `?since=<notification id>` first replays what was stored after that id."
      )
  )
{}

export class ExportsApi extends HttpApiGroup.make("exports")
  .add(
    idempotentPost("create", "/api/exports")
      .setPayload(CreateExportRequest)
      .addSuccess(ExportAccepted, { status: 202 })
      .addError(ApiError.http(ProjectNotFound))
  )
  .add(HttpApiEndpoint.get("get", "/api/exports/:id").setPath(IdPath).addSuccess(Export).addError(ApiError.http(ExportNotFound)))
  .add(
    HttpApiEndpoint.get("download", "/api/exports/:id/download")
      .setPath(IdPath)
      .addSuccess(HttpApiSchema.Text({ contentType: "text/csv" }))
      .addError(ApiError.http(ExportNotFound))
      .addError(ApiError.http(ExportNotReady))
  )
  .middleware(Authentication)
{}

const decodeErrorRef = "#/components/schemas/HttpApiDecodeError"
const errorBodyRef = "#/components/schemas/ErrorBody"

/**
 * The generated document, tidied: HttpApi's own decode-error schema is replaced by `ErrorBody` (the gateway answers
 * validation failures in that shape), and the identical alternatives that several errors of one status produce are
 * listed once.
 */
const tidy = (node: unknown): unknown => {
  if (Array.isArray(node)) return node.map(tidy)
  if (node === null || typeof node !== "object") return node
  // Effect marks `Schema.Unknown` and friends with `$id: "/schemas/unknown"`; repeated, such ids are invalid.
  const entries = Object.entries(node).filter(([key, value]) => !(key === "$id" && typeof value === "string" && value.startsWith("/schemas/"))).map(([key, value]): [string, unknown] => {
    if (key === "$ref" && value === decodeErrorRef) return [key, errorBodyRef]
    if (key === "anyOf" && Array.isArray(value)) {
      const unique = [...new Map(value.map((item) => [JSON.stringify(tidy(item)), tidy(item)])).values()]
      return [key, unique]
    }
    return [key, tidy(value)]
  })
  const result = Object.fromEntries(entries)
  const anyOf = result.anyOf
  if (Array.isArray(anyOf) && anyOf.length === 1 && Object.keys(result).length === 1) return anyOf[0]
  return result
}

export const tidyOpenApi = (spec: Record<string, unknown>): Record<string, unknown> => {
  const tidied = tidy(spec)
  if (tidied === null || typeof tidied !== "object" || Array.isArray(tidied)) return spec
  const result: Record<string, unknown> = { ...tidied }
  const components = result.components
  if (components !== null && typeof components === "object" && "schemas" in components) {
    const schemas = components.schemas
    if (schemas !== null && typeof schemas === "object") {
      const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => !["HttpApiDecodeError", "Issue", "PropertyKey"].includes(name)))
      result.components = { ...components, schemas: kept }
    }
  }
  return result
}

/** The public REST API of Herald: the contract of API.md, from which handlers, validation and OpenAPI derive. */
export class HeraldApi extends HttpApi.make("herald")
  .add(SystemApi)
  .add(AuthApi)
  .add(UsersApi)
  .add(ProjectsApi)
  .add(TasksApi)
  .add(NotificationsApi)
  .add(StreamApi)
  .add(ExportsApi)
  .addError(ApiError.http(ValidationFailed))
  .addError(ApiError.http(PayloadTooLarge))
  .addError(ApiError.http(UnsupportedMediaType))
  .addError(ApiError.http(RateLimited))
  .addError(ApiError.http(InternalError))
  .addError(ApiError.http(DependencyUnavailable))
  .annotate(OpenApi.Title, "Herald API")
  .annotate(OpenApi.Transform, tidyOpenApi)
  .annotate(OpenApi.Version, "1.0.0")
  .annotate(
    OpenApi.Description,
    "Tasks, projects and real-time notifications. Errors always have the shape { error: { code, message, details? } }."
  )
{}
