import { DomainEvent } from "@herald/domain/Events"
import { newNotificationId } from "@herald/domain/Ids"
import { Notification } from "@herald/domain/Notification"
import * as ConsumerPool from "@herald/infra/ConsumerPool"
import { RealtimeBus, userChannel } from "@herald/infra/Realtime"
import { Clock, Effect, Schema } from "effect"
import { NotificationsTopology } from "./Messaging.ts"
import { newInboxState, type NotificationDoc, NotificationRepo, toNotification } from "./NotificationRepo.ts"
import { RecipientPreferences } from "./Preferences.ts"
import { render } from "./Render.ts"

const decodeEvent = Schema.decodeUnknown(Schema.parseJson(DomainEvent))
const encodePush = Schema.encodeSync(
  Schema.parseJson(Schema.Struct({ type: Schema.Literal("notification"), notification: Notification }))
)

/**
 * The heart of the platform: every domain event that concerns a user becomes exactly one notification (the event
 * id is unique among notifications), stored by a supervised pool of workers keyed by user (so each user's
 * notifications are made in event order) and then pushed to the user's real-time channel.
 */
export const runConsumer = Effect.gen(function*() {
  const repo = yield* NotificationRepo
  const preferences = yield* RecipientPreferences
  const bus = yield* RealtimeBus
  const { notifications } = yield* NotificationsTopology
  const pool = yield* ConsumerPool.PoolConfig

  const decode = (body: string) =>
    decodeEvent(body).pipe(
      Effect.mapError((error) => new ConsumerPool.Poison({ reason: `not a Herald event: ${error.message.slice(0, 500)}` }))
    )

  const notificationOf = (event: DomainEvent) =>
    Effect.gen(function*() {
      const rendered = render(event)
      return {
        _id: yield* newNotificationId,
        userId: event.userId,
        eventId: event.id,
        // The inbox state first: what the rendering says (an actor, once it names one) wins.
        ...newInboxState(rendered.data),
        ...rendered,
        createdAt: new Date(yield* Clock.currentTimeMillis)
      }
    })

  // A redelivered event was told already; only a newly stored notification is pushed.
  const push = (doc: NotificationDoc) =>
    bus.publish(userChannel(doc.userId), encodePush({ type: "notification", notification: toNotification(doc) })).pipe(
      Effect.catchAll((error) => Effect.logWarning("real-time push failed; the client catches up on reconnect", error))
    )

  /** Events of one worker's mailbox (one or several): one insert for all, then the pushes, in order. */
  const handleMany = (bodies: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const made = yield* Effect.forEach(bodies, (body) => Effect.flatMap(decode(body), notificationOf))
      const docs = yield* preferences.keepInApp(made)
      const stored = yield* repo.insertMany(docs)
      yield* Effect.forEach(docs, (doc, index) => (stored[index] === true ? push(doc) : Effect.void), { discard: true })
    })

  return yield* ConsumerPool.run({
    name: "notifications",
    queues: notifications,
    ...pool,
    keyOf: ConsumerPool.envelopeKey("userId"),
    handle: (delivery) => handleMany([delivery.body]),
    handleMany: (deliveries) => handleMany(deliveries.map((delivery) => delivery.body))
  })
})
