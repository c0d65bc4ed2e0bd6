import * as Lease from "@herald/infra/Lease"
import { Effect } from "effect"
import { DueReminders } from "./DueReminders.ts"
import { DueReminderConfig } from "./NotificationsConfig.ts"

/**
 * Fires due-date reminders as they fall due: every `DUE_REMINDER_POLL`, and at once on start (so what fell due while
 * no copy ran fires when one comes back), only in the copy that holds the lease `due-reminders`.
 */
export const runDueScheduler = Effect.gen(function*() {
  const reminders = yield* DueReminders
  const { pollEvery } = yield* DueReminderConfig
  // Another copy takes over the firing 30 s after the holder stopped renewing.
  yield* Lease.repeatWhileLeading("due-reminders", { ttl: "30 seconds", every: pollEvery }, reminders.fireDue)
})
