import { ProjectId, UserId } from "@herald/domain/Ids"
import { deliversEmail, QuietHours } from "@herald/domain/Preferences"
import { DocumentStore } from "@herald/infra/Store"
import { Clock, Duration, Effect, Schema } from "effect"
import { digestWindow, quietUntil, type Window } from "./EmailSchedule.ts"
import type { NotificationDoc } from "./NotificationRepo.ts"
import { RetentionConfig } from "./NotificationsConfig.ts"
import { RecipientPreferences } from "./Preferences.ts"

/** One notification as an email lists it. */
export const EmailItem = Schema.Struct({
  type: Schema.String,
  title: Schema.String,
  body: Schema.String,
  projectId: Schema.NullOr(ProjectId),
  taskId: Schema.NullOr(Schema.String),
  createdAt: Schema.DateFromSelf
})
export type EmailItem = typeof EmailItem.Type

/** An email due to a user, ready for the email channel to send at `sendAt`. */
export const EmailRecord = Schema.Struct({
  _id: Schema.String,
  userId: UserId,
  kind: Schema.Literal("notification", "digest"),
  subject: Schema.String,
  text: Schema.String,
  items: Schema.Array(EmailItem),
  /** The keys of the digest items it lists (none for a single notification): what a repeated compose finds done. */
  itemKeys: Schema.Array(Schema.String),
  sendAt: Schema.DateFromSelf,
  createdAt: Schema.DateFromSelf,
  status: Schema.Literal("ready")
})
export type EmailRecord = typeof EmailRecord.Type

/** A notification waiting in a digest window; `_id` is its (event, recipient) key, kept after the digest as the redelivery guard. */
export const DigestItemDoc = Schema.Struct({
  _id: Schema.String,
  userId: UserId,
  windowStart: Schema.DateFromSelf,
  closesAt: Schema.DateFromSelf,
  /** The recipient's quiet hours when it was delivered: the newest item's decide when the digest may go. */
  quietHours: Schema.NullOr(QuietHours),
  /** The digest that lists it, once composed. */
  digestId: Schema.NullOr(Schema.String),
  item: EmailItem,
  createdAt: Schema.DateFromSelf
})
export type DigestItemDoc = typeof DigestItemDoc.Type

const memo = <A>(known: Map<string, A>, key: string, compute: () => A): A => {
  const found = known.get(key)
  if (found !== undefined) return found
  const value = compute()
  known.set(key, value)
  return value
}

const emailKey = (doc: NotificationDoc) => `${doc.eventId}:${doc.userId}`

const itemOf = (doc: NotificationDoc): EmailItem => ({
  type: doc.type,
  title: doc.title,
  body: doc.body,
  projectId: doc.projectId,
  taskId: typeof doc.data.taskId === "string" ? doc.data.taskId : null,
  createdAt: doc.createdAt
})

/**
 * The email each notification is due, for the email channel: a record per (event, recipient), or an item of the
 * recipient's digest window; deterministic keys, so a redelivery records nothing twice.
 */
export class EmailOutbox extends Effect.Service<EmailOutbox>()("Herald/EmailOutbox", {
  scoped: Effect.gen(function*() {
    const store = yield* DocumentStore
    const preferences = yield* RecipientPreferences
    const retention = Math.floor(Duration.toSeconds(yield* RetentionConfig))
    const records = yield* store.collection({
      name: "email_outbox",
      schema: EmailRecord,
      indexes: [
        // The email channel's queue (ready by `sendAt`: the next issue's sender), and a user's emails.
        { keys: { status: 1, sendAt: 1 } },
        { keys: { userId: 1, sendAt: 1 } },
        { keys: { createdAt: 1 }, expireAfterSeconds: retention }
      ]
    })
    const items = yield* store.collection({
      name: "email_digest_items",
      schema: DigestItemDoc,
      indexes: [
        { keys: { digestId: 1, closesAt: 1 } },
        { keys: { userId: 1, windowStart: 1, digestId: 1 } },
        { keys: { createdAt: 1 }, expireAfterSeconds: retention }
      ]
    })

    /** Records the email due for each notification whose recipient takes its type by email. */
    const record = (candidates: ReadonlyArray<NotificationDoc>) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        // Zoned time costs ~0.1 ms a conversion: computed once per distinct setting, which recipients mostly share.
        const held = new Map<string, number>()
        const windows = new Map<string, Window>()
        const immediate: Array<EmailRecord> = []
        const windowed: Array<DigestItemDoc> = []
        for (const doc of candidates) {
          const { preferences: wanted } = yield* preferences.current(doc.userId)
          if (!deliversEmail(wanted, doc.type)) continue
          const item = itemOf(doc)
          if (wanted.digest.email === "off") {
            immediate.push({
              _id: `notification:${emailKey(doc)}`,
              userId: doc.userId,
              kind: "notification",
              subject: doc.title,
              text: doc.body,
              items: [item],
              itemKeys: [],
              sendAt: new Date(memo(held, JSON.stringify(wanted.quietHours), () => quietUntil(now, wanted.quietHours))),
              createdAt: new Date(now),
              status: "ready"
            })
          } else {
            const { email: every } = wanted.digest
            const zone = wanted.quietHours?.timeZone ?? "UTC"
            const window = memo(windows, `${every}:${zone}`, () => digestWindow(now, every, zone))
            windowed.push({
              _id: emailKey(doc),
              userId: doc.userId,
              windowStart: new Date(window.start),
              closesAt: new Date(window.end),
              quietHours: wanted.quietHours,
              digestId: null,
              item,
              createdAt: new Date(now)
            })
          }
        }
        // A key already there is this event told once before: the unique `_id` refuses it, nothing more to do.
        if (immediate.length > 0) yield* records.insertMany(immediate)
        if (windowed.length > 0) yield* items.insertMany(windowed)
      })

    return {
      record,
      /** Items of windows closed by `now` and not yet in a digest, the earliest-closing first. */
      dueItems: (now: Date, limit: number) => items.find({ digestId: null, closesAt: { $lte: now } }, { sort: { closesAt: 1 }, limit }),
      /** Every item of one user's window not yet in a digest. */
      pendingIn: (userId: UserId, windowStart: Date) => items.find({ userId, windowStart, digestId: null }),
      /** Claims a digest: `false` when a record with its `_id` exists already. */
      claim: (digest: EmailRecord) =>
        records.insertOne(digest).pipe(Effect.as(true), Effect.catchTag("DuplicateKey", () => Effect.succeed(false))),
      /** The record with this `_id`, if any. */
      find: (id: string) => records.findOne({ _id: id }),
      /** The items are in digest `digestId` (the same value from any copy: an item is listed by one digest only). */
      markComposed: (keys: ReadonlyArray<string>, digestId: string) =>
        items.updateMany({ _id: { $in: keys } }, { $set: { digestId } }),
      /** A user's emails, by `sendAt`. */
      ofUser: (userId: UserId) => records.find({ userId }, { sort: { sendAt: 1, _id: 1 } }),
      /** A user's digest items, composed or not. */
      itemsOf: (userId: UserId) => items.find({ userId }, { sort: { createdAt: 1 } })
    }
  }),
  dependencies: [RecipientPreferences.Default]
}) {}
