import { Config, Duration } from "effect"

/** Every setting of the notifications service's own (the shared infrastructure's are in `@herald/infra/InfraConfig`). */

/** Exports: how long files are kept, when a job gives up, and how the work is cut. */
export const ExportConfig = Config.all({
  ttl: Config.duration("EXPORT_TTL").pipe(Config.withDefault(Duration.days(7))),
  /** An export not finished this long after it was asked for fails, rather than waiting out an outage forever. */
  deadline: Config.duration("EXPORT_DEADLINE").pipe(Config.withDefault(Duration.minutes(15))),
  workers: Config.integer("EXPORT_WORKERS").pipe(Config.withDefault(2)),
  pageSize: Config.integer("EXPORT_PAGE_SIZE").pipe(Config.withDefault(500)),
  chunkBytes: Config.integer("EXPORT_CHUNK_BYTES").pipe(Config.withDefault(256 * 1024))
})

/** How long a notification is kept (`NOTIFICATION_RETENTION`, 90 days by default). */
export const RetentionConfig = Config.duration("NOTIFICATION_RETENTION").pipe(
  Config.withDefault(Duration.days(90)),
  Config.validate({ message: "must be at least one second", validation: (d) => Duration.toMillis(d) >= 1000 })
)

/** The consumer's copy of its recipients' preferences. */
export const PreferencesCacheConfig = Config.all({
  ttl: Config.duration("PREFERENCES_CACHE_TTL").pipe(Config.withDefault(Duration.minutes(5))),
  capacity: Config.integer("PREFERENCES_CACHE_SIZE").pipe(
    Config.withDefault(10_000),
    Config.validate({ message: "must be at least 1", validation: (n) => n >= 1 })
  )
})

/** Due-date reminders: how long before its due date a task is `task.due_soon`, and how often the scheduler looks. */
export const DueReminderConfig = Config.all({
  lead: Config.duration("DUE_SOON_LEAD").pipe(Config.withDefault(Duration.hours(24))),
  pollEvery: Config.duration("DUE_REMINDER_POLL").pipe(
    Config.withDefault(Duration.seconds(5)),
    Config.validate({ message: "must be at least 10 milliseconds", validation: (d) => Duration.toMillis(d) >= 10 })
  )
})

/** Email digests: how often a copy looks for closed windows to compose (the copy holding the digest lease). */
export const DigestConfig = Config.all({
  interval: Config.duration("EMAIL_DIGEST_INTERVAL").pipe(
    Config.withDefault(Duration.seconds(30)),
    Config.validate({ message: "must be at least 10 milliseconds", validation: (d) => Duration.toMillis(d) >= 10 })
  )
})
