import { DomainEvent } from "@herald/domain/Events"
import * as ConsumerPool from "@herald/infra/ConsumerPool"
import type { Delivery } from "@herald/infra/Broker"
import { Effect, Schema } from "effect"
import { DueReminders } from "./DueReminders.ts"
import { DeclaredTopology } from "@herald/infra/Topology"
import { Notifier } from "./Notifier.ts"
import { PoolConfig } from "@herald/infra/InfraConfig"

const decodeEvent = Schema.decodeUnknown(Schema.parseJson(DomainEvent))

const projectKey = /"projectId":"(prj_[0-9A-Z]{26})"/
const byUser = ConsumerPool.envelopeKey("userId")

/**
 * The mailbox of an event: its project when it has one (so one project's membership has one writer, and its events
 * are handled in order), else its user (exports, private tasks).
 */
export const mailboxOf = (delivery: Delivery): string | undefined => projectKey.exec(delivery.body)?.[1] ?? byUser(delivery)

/**
 * The heart of the platform: every domain event becomes one notification for each person it concerns (see
 * `Notifier`), made by a supervised pool of workers keyed by project (or user), and pushed in real time.
 */
export const runConsumer = Effect.gen(function*() {
  const notifier = yield* Notifier
  const reminders = yield* DueReminders
  const { notifications } = yield* DeclaredTopology
  const pool = yield* PoolConfig

  const decode = (body: string) =>
    decodeEvent(body).pipe(
      Effect.mapError((error) => new ConsumerPool.Poison({ reason: `not a Herald event: ${error.message.slice(0, 500)}` }))
    )

  /** Events of one worker's mailbox (one or several), in order: their notifications, then their tasks' due timers. */
  const handleMany = (bodies: ReadonlyArray<string>) =>
    Effect.flatMap(Effect.forEach(bodies, decode), (events) => Effect.zipRight(notifier.handle(events), reminders.track(events)))

  return yield* ConsumerPool.run({
    name: "notifications",
    queues: notifications,
    ...pool,
    keyOf: mailboxOf,
    handle: (delivery) => Effect.asVoid(handleMany([delivery.body])),
    handleMany: (deliveries) => Effect.asVoid(handleMany(deliveries.map((delivery) => delivery.body)))
  })
})
