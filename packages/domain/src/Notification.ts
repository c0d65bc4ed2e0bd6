import { Schema } from "effect"
import { BooleanFromText, Count, cursorParam, IsoDateTime, limitParam } from "./Common.ts"
import { exampleId, NotificationId, ProjectId } from "./Ids.ts"

/** Who did what a notification tells of; `null` where it is not known (system events, older notifications). */
export const Actor = Schema.Struct({
  id: Schema.String.annotations({ description: "The user who did it", examples: [exampleId("usr")] }),
  name: Schema.String.annotations({ description: "Their name", examples: ["Ada Lovelace"] })
}).annotations({ description: "Who did what the notification tells of" })

export class Notification extends Schema.Class<Notification>("Notification")({
  id: NotificationId,
  type: Schema.String.annotations({ description: "What happened, e.g. `task.created` or `export.completed`", examples: ["task.created"] }),
  title: Schema.String.annotations({ description: "A one-line summary", examples: ["New task: Write the README"] }),
  body: Schema.String.annotations({ description: "What happened, in words", examples: ["Ada created 'Write the README'"] }),
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown.annotations({ title: "Value" }) }).annotations({
    description: "The ids the notification is about (`taskId`, `projectId`, `exportId`, …) and `actor`",
    examples: [{ taskId: "tsk_01J9Z3YQ7KWRC8V2T5X0F8M4PD", projectId: null }]
  }),
  actor: Schema.NullOr(Actor).annotations({ description: "Who did it; null for system events" }),
  read: Schema.Boolean.annotations({ description: "Whether the user has marked it read", examples: [false] }),
  readAt: Schema.NullOr(IsoDateTime).annotations({ description: "When it was read; null while unread" }),
  seen: Schema.Boolean.annotations({ description: "Shown to the user (the badge counts unseen ones); reading one also makes it seen", examples: [false] }),
  archived: Schema.Boolean.annotations({ description: "Archived: left out of the inbox unless asked for", examples: [false] }),
  createdAt: IsoDateTime
}, { description: "Something that happened to the user's work" }) {}


export const NotificationListQuery = Schema.Struct({
  unread: Schema.optional(
    BooleanFromText.annotations({
      jsonSchema: { type: "boolean", description: "`true`: only unread notifications; `false`: only read ones", examples: [true] }
    })
  ),
  archived: Schema.optional(
    BooleanFromText.annotations({
      jsonSchema: { type: "boolean", description: "`true`: the archived ones only; otherwise archived ones are left out", examples: [true] }
    })
  ),
  type: Schema.optional(
    Schema.String.pipe(Schema.pattern(/^[a-z_]{1,40}\.[a-z_]{1,40}$/)).annotations({
      title: "Type",
      description: "Only notifications of this type",
      examples: ["task.assigned"]
    })
  ),
  projectId: Schema.optional(ProjectId.annotations({ description: "Only the notifications of this project" })),
  limit: limitParam(20),
  cursor: cursorParam("ntf")
})
export type NotificationListQuery = typeof NotificationListQuery.Type

export const LatestQuery = Schema.Struct({
  limit: limitParam(10)
})

/** A user's badge numbers, counted over notifications that are not archived. */
export const InboxCounts = Schema.Struct({
  unread: Count("Notifications not read yet", 2),
  unseen: Count("Notifications not seen yet (the badge)", 1)
})
export type InboxCounts = typeof InboxCounts.Type

/** `count` equals `unread`, kept for older clients. */
export const UnreadCount = Schema.Struct({ ...InboxCounts.fields, count: Count("The same as `unread`, for older clients", 2) }).annotations({
  description: "The caller's unread and unseen counts",
  examples: [{ unread: 2, unseen: 1, count: 2 }]
})

/** `?projectId=`: limits a bulk change (read-all, seen-all, archive-all) to one project's notifications. */
export const BulkQuery = Schema.Struct({
  projectId: Schema.optional(ProjectId.annotations({ description: "Only this project's notifications" }))
})

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
