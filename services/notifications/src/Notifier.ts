import type { DomainEvent } from "@herald/domain/Events"
import { newNotificationId } from "@herald/domain/Ids"
import { RealtimeMessage } from "@herald/domain/Notification"
import { RealtimeBus, userChannel } from "@herald/infra/Realtime"
import { Clock, Effect, Option, Schema } from "effect"
import { EmailOutbox } from "./EmailOutbox.ts"
import { Memberships } from "./Memberships.ts"
import { newInboxState, type NotificationDoc, NotificationRepo, toNotification } from "./NotificationRepo.ts"
import { RecipientPreferences } from "./Preferences.ts"
import { isProjectEvent, projectOf, recipientsOf } from "./Recipients.ts"
import { render } from "./Render.ts"

const encodePush = Schema.encodeSync(Schema.parseJson(RealtimeMessage))

/** Pushes at once: one user's stay in order, different users' go together. */
const pushConcurrency = 64

/**
 * Turns events into notifications, one per (event, recipient), and pushes those newly stored. Events of one project
 * must reach it in order, from one fiber at a time (the consumer's mailboxes are keyed by project; see the README).
 */
export class Notifier extends Effect.Service<Notifier>()("Herald/Notifier", {
  effect: Effect.gen(function*() {
    const repo = yield* NotificationRepo
    const memberships = yield* Memberships
    const bus = yield* RealtimeBus
    const preferences = yield* RecipientPreferences
    const email = yield* EmailOutbox

    const notificationsOf = (event: DomainEvent) =>
      Effect.gen(function*() {
        const projectId = projectOf(event)
        const known = isProjectEvent(event)
          ? yield* memberships.apply(event)
          : projectId === null
          ? Option.none()
          : yield* memberships.get(projectId)
        const createdAt = new Date(yield* Clock.currentTimeMillis)
        return yield* Effect.forEach(recipientsOf(event, known), (recipient) =>
          Effect.map(newNotificationId, (id): NotificationDoc => {
            const rendered = render(event, recipient)
            return { _id: id, userId: recipient.userId, eventId: event.id, ...newInboxState(rendered.data), ...rendered, createdAt }
          }))
      })

    // A redelivered event was told already; only a newly stored notification is pushed.
    const push = (doc: NotificationDoc) =>
      bus.publish(userChannel(doc.userId), encodePush({ type: "notification", notification: toNotification(doc) })).pipe(
        Effect.catchAll((error) => Effect.logWarning("real-time push failed; the client catches up on reconnect", error))
      )

    /**
     * The one delivery path (events and reminders): the in-app filter, one insert, the pushes, then the email records
     * of all candidates (a type muted in-app may still be emailed; a redelivery records what a crash left out).
     */
    const deliver = (candidates: ReadonlyArray<NotificationDoc>) =>
      Effect.gen(function*() {
        const docs = yield* preferences.keepInApp(candidates)
        const stored = docs.length === 0 ? [] : yield* repo.insertMany(docs)
        const fresh = docs.filter((_, index) => stored[index] === true)
        const byUser = new Map<string, Array<NotificationDoc>>()
        for (const doc of fresh) {
          const own = byUser.get(doc.userId)
          if (own === undefined) byUser.set(doc.userId, [doc])
          else own.push(doc)
        }
        yield* Effect.forEach(byUser.values(), (own) => Effect.forEach(own, push, { discard: true }), {
          concurrency: pushConcurrency,
          discard: true
        })
        yield* email.record(candidates)
        return fresh
      })

    return {
      deliver,
      /** Events in the order they were delivered: their notifications delivered together. */
      handle: (events: ReadonlyArray<DomainEvent>) =>
        Effect.flatMap(Effect.forEach(events, notificationsOf), (made) => deliver(made.flat()))
    }
  }),
  dependencies: [Memberships.Default, RecipientPreferences.Default, EmailOutbox.Default]
}) {}
