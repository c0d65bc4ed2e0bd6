import { decodeCursor, encodeCursor } from "@herald/domain/Common"
import { NotificationNotFound, ValidationFailed } from "@herald/domain/Errors"
import { NotificationId, UserId } from "@herald/domain/Ids"
import { Notification } from "@herald/domain/Notification"
import { DocumentStore, type Filter } from "@herald/infra/Store"
import { Effect, Schema } from "effect"

export const NotificationDoc = Schema.Struct({
  _id: NotificationId,
  userId: UserId,
  /** The event this notification tells of: unique with the user, so a redelivered event never tells anyone twice. */
  eventId: Schema.String,
  type: Schema.String,
  title: Schema.String,
  body: Schema.String,
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  read: Schema.Boolean,
  createdAt: Schema.DateFromSelf
})
export type NotificationDoc = typeof NotificationDoc.Type

/** Its fields were validated on the way in (decoded from the store, or from a request): the Notification constructor does not check them again. */
export const toNotification = (doc: NotificationDoc): Notification =>
  new Notification({
    id: doc._id,
    type: doc.type,
    title: doc.title,
    body: doc.body,
    data: doc.data,
    read: doc.read,
    createdAt: doc.createdAt
  }, true)

const isNotificationId = Schema.is(NotificationId)

export class NotificationRepo extends Effect.Service<NotificationRepo>()("Herald/NotificationRepo", {
  scoped: Effect.gen(function*() {
    const store = yield* DocumentStore
    const notifications = yield* store.collection({
      name: "notifications",
      schema: NotificationDoc,
      // One notification per (event, recipient); the unique key on the event alone is from before projects were shared.
      dropIndexes: ["eventId_1"],
      indexes: [
        { keys: { eventId: 1, userId: 1 }, unique: true },
        { keys: { userId: 1, _id: -1 } },
        { keys: { userId: 1, read: 1 } }
      ]
    })
    const notFound = () => new NotificationNotFound({ message: "notification not found" })
    return {
      /** Stores notifications; for each, `false` when its recipient was already told of its event (the unique key refused it). */
      insertMany: (docs: ReadonlyArray<NotificationDoc>) =>
        Effect.map(notifications.insertMany(docs), ({ duplicates }) => {
          const told = new Set(duplicates)
          return docs.map((_, index) => !told.has(index))
        }),
      list: (userId: UserId, options: { readonly unread?: boolean | undefined; readonly limit: number; readonly cursor?: string | undefined }) =>
        Effect.gen(function*() {
          const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor)
          if (after !== undefined && !isNotificationId(after)) {
            return yield* Effect.fail(new ValidationFailed({ message: "invalid cursor" }))
          }
          const filter: Filter<NotificationDoc> = {
            userId,
            ...(options.unread === true ? { read: false } : {}),
            ...(after !== undefined && isNotificationId(after) ? { _id: { $lt: after } } : {})
          }
          const docs = yield* notifications.find(filter, { sort: { _id: -1 }, limit: options.limit + 1 })
          const page = docs.slice(0, options.limit)
          const last = page[page.length - 1]
          return {
            items: page.map(toNotification),
            nextCursor: docs.length > options.limit && last !== undefined ? encodeCursor(last._id) : null
          }
        }),
      /** Oldest first, after `after`: what a reconnecting stream missed. */
      since: (userId: UserId, after: NotificationId, limit: number) =>
        Effect.map(notifications.find({ userId, _id: { $gt: after } }, { sort: { _id: 1 }, limit }), (docs) => docs.map(toNotification)),
      unreadCount: (userId: UserId) => notifications.count({ userId, read: false }),
      markRead: (userId: UserId, id: string) =>
        isNotificationId(id)
          ? Effect.flatMap(notifications.updateOne({ _id: id, userId }, { $set: { read: true } }), (result) =>
            result.matched === 1 ? Effect.void : Effect.fail(notFound())).pipe(
              Effect.catchTag("DuplicateKey", (error) => Effect.die(error))
            )
          : Effect.fail(notFound()),
      markAllRead: (userId: UserId) => Effect.asVoid(notifications.updateMany({ userId, read: false }, { $set: { read: true } })),
      byEvent: (eventId: string) => notifications.findOne({ eventId }),
      count: (filter: Filter<NotificationDoc>) => notifications.count(filter)
    }
  })
}) {}

