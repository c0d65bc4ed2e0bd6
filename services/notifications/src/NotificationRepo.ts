import { decodeCursor, encodeCursor } from "@herald/domain/Common"
import { type DependencyUnavailable, NotificationNotFound, ValidationFailed } from "@herald/domain/Errors"
import { NotificationId, ProjectId, UserId } from "@herald/domain/Ids"
import { Actor, type InboxCounts, Notification } from "@herald/domain/Notification"
import type { BulkChange, InboxChange } from "@herald/domain/NotificationsRpc"
import { DocumentStore, type Filter, type Update } from "@herald/infra/Store"
import { Clock, Duration, Effect, Schema } from "effect"
import { RetentionConfig } from "./NotificationsConfig.ts"


export const NotificationDoc = Schema.Struct({
  _id: NotificationId,
  userId: UserId,
  /** The event this notification tells of: unique with the user, so a redelivered event never tells anyone twice. */
  eventId: Schema.String,
  type: Schema.String,
  title: Schema.String,
  body: Schema.String,
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  /** `data.projectId`, kept beside it so that the inbox filters and bulk changes by project use an index. */
  projectId: Schema.NullOr(ProjectId),
  actor: Schema.NullOr(Actor),
  read: Schema.Boolean,
  readAt: Schema.NullOr(Schema.DateFromSelf),
  seen: Schema.Boolean,
  archived: Schema.Boolean,
  createdAt: Schema.DateFromSelf
})
export type NotificationDoc = typeof NotificationDoc.Type

const isProjectId = Schema.is(ProjectId)
const isActor = Schema.is(Actor)

/** The inbox state of a new notification: unread, unseen, in the inbox; its project taken from its `data`. */
export const newInboxState = (data: Record<string, unknown>) => ({
  projectId: isProjectId(data.projectId) ? data.projectId : null,
  actor: isActor(data.actor) ? { id: data.actor.id, name: data.actor.name } : null,
  read: false,
  readAt: null,
  seen: false,
  archived: false
})

/** Its fields were validated on the way in (decoded from the store, or from a request): the Notification constructor does not check them again. */
export const toNotification = (doc: NotificationDoc): Notification =>
  new Notification({
    id: doc._id,
    type: doc.type,
    title: doc.title,
    body: doc.body,
    data: doc.data,
    actor: doc.actor,
    read: doc.read,
    readAt: doc.readAt,
    seen: doc.seen,
    archived: doc.archived,
    createdAt: doc.createdAt
  }, true)

const isNotificationId = Schema.is(NotificationId)

export interface ListOptions {
  readonly unread?: boolean | undefined
  readonly archived?: boolean | undefined
  readonly type?: string | undefined
  readonly projectId?: ProjectId | undefined
  readonly limit: number
  readonly cursor?: string | undefined
}

export class NotificationRepo extends Effect.Service<NotificationRepo>()("Herald/NotificationRepo", {
  scoped: Effect.gen(function*() {
    const store = yield* DocumentStore
    const retention = yield* RetentionConfig
    const notifications = yield* store.collection({
      name: "notifications",
      schema: NotificationDoc,
      // One notification per (event, recipient); the unique key on the event alone is from before projects were shared.
      dropIndexes: ["eventId_1"],
      indexes: [
        { keys: { eventId: 1, userId: 1 }, unique: true },
        // The inbox page (newest first, archived ones apart) and the two badge counts.
        { keys: { userId: 1, archived: 1, _id: -1 } },
        { keys: { userId: 1, archived: 1, read: 1 } },
        { keys: { userId: 1, archived: 1, seen: 1 } },
        { keys: { userId: 1, projectId: 1, _id: -1 } },
        { keys: { createdAt: 1 }, expireAfterSeconds: Math.floor(Duration.toSeconds(retention)) }
      ]
    })
    const notFound = () => new NotificationNotFound({ message: "notification not found" })
    const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis))

    const changes: { readonly [C in InboxChange]: (at: Date) => Update<NotificationDoc> } = {
      read: (at) => ({ $set: { read: true, readAt: at, seen: true } }),
      unread: () => ({ $set: { read: false, readAt: null } }),
      archive: () => ({ $set: { archived: true } }),
      unarchive: () => ({ $set: { archived: false } })
    }
    const bulk: { readonly [C in BulkChange]: { readonly filter: Filter<NotificationDoc>; readonly update: (at: Date) => Update<NotificationDoc> } } = {
      read: { filter: { read: false }, update: changes.read },
      seen: { filter: { seen: false }, update: () => ({ $set: { seen: true } }) },
      archive: { filter: { archived: false }, update: changes.archive }
    }

    return {
      retention,
      /** Stores notifications; for each, `false` when its recipient was already told of its event (the unique key refused it). */
      insertMany: (docs: ReadonlyArray<NotificationDoc>) =>
        Effect.map(notifications.insertMany(docs), ({ duplicates }) => {
          const told = new Set(duplicates)
          return docs.map((_, index) => !told.has(index))
        }),
      list: (userId: UserId, options: ListOptions) =>
        Effect.gen(function*() {
          const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor)
          if (after !== undefined && !isNotificationId(after)) {
            return yield* Effect.fail(new ValidationFailed({ message: "invalid cursor" }))
          }
          const filter: Filter<NotificationDoc> = {
            userId,
            archived: options.archived === true,
            ...(options.unread === true ? { read: false } : {}),
            ...(options.type !== undefined ? { type: options.type } : {}),
            ...(options.projectId !== undefined ? { projectId: options.projectId } : {}),
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
      counts: (userId: UserId): Effect.Effect<InboxCounts, DependencyUnavailable> =>
        Effect.map(
          Effect.all([
            notifications.count({ userId, archived: false, read: false }),
            notifications.count({ userId, archived: false, seen: false })
          ], { concurrency: 2 }),
          ([unread, unseen]) => ({ unread, unseen })
        ),
      /** The counts of each of `userIds`, in two queries whatever their number. */
      countsOf: (userIds: ReadonlyArray<UserId>) =>
        Effect.map(
          Effect.all([
            notifications.countBy({ userId: { $in: userIds }, archived: false, read: false }, "userId"),
            notifications.countBy({ userId: { $in: userIds }, archived: false, seen: false }, "userId")
          ], { concurrency: 2 }),
          ([unread, unseen]) => userIds.map((userId) => ({ userId, unread: unread.get(userId) ?? 0, unseen: unseen.get(userId) ?? 0 }))
        ),
      /** One notification of `userId` changes state; another user's is not found. */
      change: (userId: UserId, id: string, change: InboxChange) =>
        isNotificationId(id)
          ? now.pipe(
            Effect.flatMap((at) => notifications.updateOne({ _id: id, userId }, changes[change](at))),
            Effect.flatMap((result) => result.matched === 1 ? Effect.void : Effect.fail(notFound())),
            Effect.catchTag("DuplicateKey", (error) => Effect.die(error))
          )
          : Effect.fail(notFound()),
      remove: (userId: UserId, id: string) =>
        isNotificationId(id)
          ? Effect.flatMap(notifications.deleteOne({ _id: id, userId }), (deleted) => deleted === 1 ? Effect.void : Effect.fail(notFound()))
          : Effect.fail(notFound()),
      /** Every notification of `userId` (of one project, when given) that the change concerns; how many changed. */
      changeAll: (userId: UserId, change: BulkChange, projectId?: ProjectId) =>
        Effect.flatMap(now, (at) =>
          notifications.updateMany(
            { userId, ...bulk[change].filter, ...(projectId !== undefined ? { projectId } : {}) },
            bulk[change].update(at)
          )),
      byEvent: (eventId: string) => notifications.findOne({ eventId }),
      count: (filter: Filter<NotificationDoc>) => notifications.count(filter)
    }
  })
}) {}
