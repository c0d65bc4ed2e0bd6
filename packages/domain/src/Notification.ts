import { Schema } from "effect"
import { Count, cursorParam, IsoDateTime, limitParam } from "./Common.ts"
import { NotificationId } from "./Ids.ts"

export class Notification extends Schema.Class<Notification>("Notification")({
  id: NotificationId,
  type: Schema.String.annotations({ description: "What happened, e.g. `task.created` or `export.completed`", examples: ["task.created"] }),
  title: Schema.String.annotations({ description: "A one-line summary", examples: ["New task: Write the README"] }),
  body: Schema.String.annotations({ description: "What happened, in words", examples: ["Ada created 'Write the README'"] }),
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown.annotations({ title: "Value" }) }).annotations({
    description: "The ids the notification is about (`taskId`, `projectId`, `exportId`, …)",
    examples: [{ taskId: "tsk_01J9Z3YQ7KWRC8V2T5X0F8M4PD", projectId: null }]
  }),
  read: Schema.Boolean.annotations({ description: "Whether the user has marked it read", examples: [false] }),
  createdAt: IsoDateTime
}, { description: "Something that happened to the user's work" }) {}

/** `true` or `false` in a query string; a boolean in the document (and typed clients). */
export const BooleanFromText = Schema.transform(Schema.Literal("true", "false"), Schema.Boolean, {
  strict: true,
  decode: (text) => text === "true",
  encode: (flag) => (flag ? "true" : "false")
})

export const NotificationListQuery = Schema.Struct({
  unread: Schema.optional(
    BooleanFromText.annotations({
      jsonSchema: { type: "boolean", description: "`true`: only unread notifications; `false`: only read ones", examples: [true] }
    })
  ),
  limit: limitParam(20),
  cursor: cursorParam("ntf")
})
export type NotificationListQuery = typeof NotificationListQuery.Type

export const LatestQuery = Schema.Struct({
  limit: limitParam(10)
})

export const UnreadCount = Schema.Struct({ count: Count("How many of the user's notifications are unread", 2) }).annotations({
  description: "The number of unread notifications",
  examples: [{ count: 2 }]
})

/** What the real-time stream sends, one JSON object per WebSocket text frame. */
export const StreamMessage = Schema.Union(
  Schema.Struct({ type: Schema.Literal("notification"), notification: Notification, unreadCount: Schema.Int }),
  Schema.Struct({ type: Schema.Literal("heartbeat"), at: IsoDateTime }),
  Schema.Struct({ type: Schema.Literal("ready"), unreadCount: Schema.Int })
)
export type StreamMessage = typeof StreamMessage.Type
