import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import { Cursor, Page } from "./Common.ts"
import { DependencyUnavailable, ExportNotFound, ExportNotReady, NotificationNotFound, ValidationFailed } from "./Errors.ts"
import { CreateExportRequest, Export } from "./Export.ts"
import { Readiness } from "./Health.ts"
import { NotificationId, PathId, ProjectId, UserId } from "./Ids.ts"
import { InboxCounts, Notification } from "./Notification.ts"

const owner = { userId: UserId }
const Limit = Schema.Int.pipe(Schema.between(1, 1000))

/** A change of one notification's state. */
export const InboxChange = Schema.Literal("read", "unread", "archive", "unarchive")
export type InboxChange = typeof InboxChange.Type

/** A change of every notification of a user (or of one of their projects). */
export const BulkChange = Schema.Literal("read", "seen", "archive")
export type BulkChange = typeof BulkChange.Type

/** The notifications service: a user's notifications and exports. */
export class NotificationsRpc extends RpcGroup.make(
  Rpc.make("List", {
    payload: {
      ...owner,
      unread: Schema.optional(Schema.Boolean),
      archived: Schema.optional(Schema.Boolean),
      type: Schema.optional(Schema.String),
      projectId: Schema.optional(ProjectId),
      limit: Limit,
      cursor: Schema.optional(Cursor)
    },
    success: Page(Notification),
    error: Schema.Union(ValidationFailed, DependencyUnavailable)
  }),
  /** Notifications stored after `after` (oldest first): what a reconnecting stream missed. */
  Rpc.make("Since", {
    payload: { ...owner, after: NotificationId, limit: Limit },
    success: Schema.Array(Notification),
    error: DependencyUnavailable
  }),
  /** Unread and unseen, over the notifications that are not archived. */
  Rpc.make("Counts", {
    payload: owner,
    success: InboxCounts,
    error: DependencyUnavailable
  }),
  /** The counts of several users at once (a gateway's pushes of one moment): one query per number, whatever their number. */
  Rpc.make("CountsOf", {
    payload: { userIds: Schema.Array(UserId).pipe(Schema.maxItems(1000)) },
    success: Schema.Array(Schema.Struct({ userId: UserId, ...InboxCounts.fields })),
    error: DependencyUnavailable
  }),
  Rpc.make("Change", {
    payload: { ...owner, notificationId: PathId, change: InboxChange },
    error: Schema.Union(NotificationNotFound, DependencyUnavailable)
  }),
  Rpc.make("Delete", {
    payload: { ...owner, notificationId: PathId },
    error: Schema.Union(NotificationNotFound, DependencyUnavailable)
  }),
  Rpc.make("ChangeAll", {
    payload: { ...owner, change: BulkChange, projectId: Schema.optional(ProjectId) },
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
