import { Schema } from "effect"
import { Cursor, IsoDateTime, Limit } from "./Common.ts"
import { NotificationId } from "./Ids.ts"

export class Notification extends Schema.Class<Notification>("Notification")({
  id: NotificationId,
  type: Schema.String.annotations({ examples: ["task.created", "export.completed"] }),
  title: Schema.String,
  body: Schema.String,
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  read: Schema.Boolean,
  createdAt: IsoDateTime
}) {}

/** `true` / `false` in a query string. */
export const BooleanFromText = Schema.transform(Schema.Literal("true", "false"), Schema.Boolean, {
  strict: true,
  decode: (text) => text === "true",
  encode: (flag) => (flag ? "true" : "false")
})

export const NotificationListQuery = Schema.Struct({
  unread: Schema.optional(BooleanFromText),
  limit: Schema.optionalWith(Limit, { default: () => 20 }),
  cursor: Schema.optional(Cursor)
})
export type NotificationListQuery = typeof NotificationListQuery.Type

export const LatestQuery = Schema.Struct({
  limit: Schema.optionalWith(Limit, { default: () => 10 })
})

export const UnreadCount = Schema.Struct({ count: Schema.Int })

/** What the real-time stream sends, one JSON object per WebSocket text frame. */
export const StreamMessage = Schema.Union(
  Schema.Struct({ type: Schema.Literal("notification"), notification: Notification, unreadCount: Schema.Int }),
  Schema.Struct({ type: Schema.Literal("heartbeat"), at: IsoDateTime }),
  Schema.Struct({ type: Schema.Literal("ready"), unreadCount: Schema.Int })
)
export type StreamMessage = typeof StreamMessage.Type
