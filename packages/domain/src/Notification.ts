import { Schema } from "effect"
import { Cursor, IsoDateTime, Limit } from "./Common.ts"
import { NotificationId, ProjectId } from "./Ids.ts"

/** Who did what a notification tells of; `null` where it is not known (system events, older notifications). */
export const Actor = Schema.Struct({ id: Schema.String, name: Schema.String })

export class Notification extends Schema.Class<Notification>("Notification")({
  id: NotificationId,
  type: Schema.String.annotations({ examples: ["task.created", "export.completed"] }),
  title: Schema.String,
  body: Schema.String,
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  actor: Schema.NullOr(Actor),
  read: Schema.Boolean,
  readAt: Schema.NullOr(IsoDateTime),
  /** Shown to the user (the badge counts unseen ones); reading one also makes it seen. */
  seen: Schema.Boolean,
  archived: Schema.Boolean,
  createdAt: IsoDateTime
}) {}

const BooleanFromText = Schema.transform(Schema.Literal("true", "false"), Schema.Boolean, {
  strict: true,
  decode: (text) => text === "true",
  encode: (flag) => (flag ? "true" : "false")
})

export const NotificationListQuery = Schema.Struct({
  unread: Schema.optional(BooleanFromText).annotations({ description: "`true`: unread ones only" }),
  archived: Schema.optional(BooleanFromText).annotations({
    description: "`true`: the archived ones only; otherwise archived ones are left out"
  }),
  type: Schema.optional(Schema.String.pipe(Schema.pattern(/^[a-z_]{1,40}\.[a-z_]{1,40}$/))),
  projectId: Schema.optional(ProjectId),
  limit: Schema.optionalWith(Limit, { default: () => 20 }),
  cursor: Schema.optional(Cursor)
})
export type NotificationListQuery = typeof NotificationListQuery.Type

export const LatestQuery = Schema.Struct({
  limit: Schema.optionalWith(Limit, { default: () => 10 })
})

/** A user's badge numbers, counted over notifications that are not archived. */
export const InboxCounts = Schema.Struct({ unread: Schema.Int, unseen: Schema.Int })
export type InboxCounts = typeof InboxCounts.Type

/** `count` equals `unread`, kept for older clients. */
export const UnreadCount = Schema.Struct({ ...InboxCounts.fields, count: Schema.Int })

/** `?projectId=`: limits a bulk change (read-all, seen-all, archive-all) to one project's notifications. */
export const BulkQuery = Schema.Struct({ projectId: Schema.optional(ProjectId) })

/**
 * What the notifications service publishes on a user's real-time channel: a new notification, or word that the
 * user's counts may have changed (the gateway looks them up once per message, for all of that user's streams).
 */
export const RealtimeMessage = Schema.Union(
  Schema.Struct({ type: Schema.Literal("notification"), notification: Notification }),
  Schema.Struct({ type: Schema.Literal("inbox_changed") })
)
export type RealtimeMessage = typeof RealtimeMessage.Type

/** What the real-time stream sends, one JSON object per WebSocket text frame. */
export const StreamMessage = Schema.Union(
  Schema.Struct({ type: Schema.Literal("notification"), notification: Notification, unreadCount: Schema.Int }),
  Schema.Struct({ type: Schema.Literal("counts"), unread: Schema.Int, unseen: Schema.Int }),
  Schema.Struct({ type: Schema.Literal("heartbeat"), at: IsoDateTime }),
  Schema.Struct({ type: Schema.Literal("ready"), unreadCount: Schema.Int })
)
export type StreamMessage = typeof StreamMessage.Type
