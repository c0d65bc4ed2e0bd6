import * as Lease from "@herald/infra/Lease"
import { Effect, Schedule, SubscriptionRef } from "effect"
import { DueReminders } from "./DueReminders.ts"
import { DueReminderConfig } from "./NotificationsConfig.ts"

/** Another copy takes over the firing this long after the holder stopped renewing (it renews every third of it). */
const leaseTtl = "30 seconds"

/**
 * Fires due-date reminders as they fall due: every `DUE_REMINDER_POLL`, and at once on start (so what fell due while
 * no copy ran fires when one comes back), only in the copy that holds the lease `due-reminders`.
 */
export const runDueScheduler = Effect.gen(function*() {
  const reminders = yield* DueReminders
  const { pollEvery } = yield* DueReminderConfig
  const { leading } = yield* Lease.hold("due-reminders", { ttl: leaseTtl })
  const round = SubscriptionRef.get(leading).pipe(
    Effect.flatMap((held) => (held ? reminders.fireDue : Effect.void)),
    Effect.catchAllCause((cause) => Effect.logWarning("due reminders: a round failed; the next one tries again", cause))
  )
  yield* round.pipe(Effect.repeat(Schedule.spaced(pollEvery)), Effect.forkScoped)
})
