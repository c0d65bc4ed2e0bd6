import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import { Cursor, Page } from "./Common.ts"
import { DependencyUnavailable, ExportNotFound, ExportNotReady, NotificationNotFound, ValidationFailed } from "./Errors.ts"
import { CreateExportRequest, Export } from "./Export.ts"
import { Readiness } from "./Health.ts"
import { NotificationId, PathId, ProjectId, UserId } from "./Ids.ts"
import { Notification } from "./Notification.ts"

const owner = { userId: UserId }
const Limit = Schema.Int.pipe(Schema.between(1, 1000))

/** The notifications service: a user's notifications and exports. */
export class NotificationsRpc extends RpcGroup.make(
  Rpc.make("List", {
    payload: { ...owner, unread: Schema.optional(Schema.Boolean), limit: Limit, cursor: Schema.optional(Cursor) },
    success: Page(Notification),
    error: Schema.Union(ValidationFailed, DependencyUnavailable)
  }),
  /** Notifications stored after `after` (oldest first): what a reconnecting stream missed. */
  Rpc.make("Since", {
    payload: { ...owner, after: NotificationId, limit: Limit },
    success: Schema.Array(Notification),
    error: DependencyUnavailable
  }),
  Rpc.make("UnreadCount", {
    payload: owner,
    success: Schema.Int,
    error: DependencyUnavailable
  }),
  Rpc.make("MarkRead", {
    payload: { ...owner, notificationId: PathId },
    error: Schema.Union(NotificationNotFound, DependencyUnavailable)
  }),
  Rpc.make("MarkAllRead", {
    payload: owner,
    error: DependencyUnavailable
  }),
  Rpc.make("CreateExport", {
    payload: { ...owner, format: CreateExportRequest.fields.format, projectId: Schema.NullOr(ProjectId) },
    success: Export,
    error: DependencyUnavailable
  }),
  Rpc.make("GetExport", {
    payload: { ...owner, exportId: PathId },
    success: Export,
    error: Schema.Union(ExportNotFound, DependencyUnavailable)
  }),
  /** The file of a completed export, in chunks. */
  Rpc.make("DownloadExport", {
    payload: { ...owner, exportId: PathId },
    success: Schema.String,
    error: Schema.Union(ExportNotFound, ExportNotReady, DependencyUnavailable),
    stream: true
  }),
  Rpc.make("Ready", { success: Readiness })
) {}
