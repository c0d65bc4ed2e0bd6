import { Schema } from "effect"
import { UserId } from "./Ids.ts"

/** Every notification type Herald knows (API.md, "Teams"); a preference for any other is refused. */
export const notificationTypes = [
  "task.created",
  "task.updated",
  "task.assigned",
  "task.deleted",
  "task.commented",
  "task.mentioned",
  "task.due_soon",
  "task.overdue",
  "project.member_added",
  "project.member_removed",
  "project.updated",
  "project.deleted",
  "export.completed",
  "export.failed",
  "security.session_revoked"
] as const
export const NotificationType = Schema.Literal(...notificationTypes)
export type NotificationType = typeof NotificationType.Type

/** Types that always reach the in-app inbox: a preference cannot turn them off there. */
export const criticalTypes: ReadonlyArray<string> = ["security.session_revoked", "export.failed"]

export const channels = ["in_app", "email", "webhook"] as const
export type Channel = (typeof channels)[number]

// Unknown channels, types and fields are refused (400), not silently dropped: a typo must not look like a setting.
const strict = { parseOptions: { onExcessProperty: "error" } } as const

const ChannelSwitches = Schema.Struct({ in_app: Schema.Boolean, email: Schema.Boolean, webhook: Schema.Boolean }).annotations(strict)

/** Per type, per channel; a channel left out follows the channel's own switch. */
const TypeSwitches = Schema.Struct({
  in_app: Schema.optional(Schema.Boolean),
  email: Schema.optional(Schema.Boolean),
  webhook: Schema.optional(Schema.Boolean)
}).annotations(strict)

const ClockTime = Schema.String.pipe(Schema.pattern(/^([01]\d|2[0-3]):[0-5]\d$/, { message: () => "expected HH:MM (00:00 to 23:59)" })).annotations({
  title: "Time of day",
  description: "HH:MM, 00:00 to 23:59, in the quiet hours' time zone",
  examples: ["22:00"]
})

const isTimeZone = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone })
    return zone.length <= 64
  } catch {
    return false
  }
}

/** An IANA time zone this runtime knows (`Europe/Paris`, `America/New_York`, `UTC`). */
export const TimeZone = Schema.String.pipe(
  Schema.filter((zone) => isTimeZone(zone) || "expected an IANA time zone, e.g. Europe/Paris"),
  Schema.annotations({ examples: ["Europe/Paris"] })
)

export const QuietHours = Schema.Struct({ start: ClockTime, end: ClockTime, timeZone: TimeZone }).annotations(strict)

/**
 * A user's notification preferences (API.md, "Preferences"); in-app delivery follows `deliversInApp`, email
 * `deliversEmail`, and a critical type cannot be turned off in-app (refused).
 */
export const Preferences = Schema.Struct({
  channels: ChannelSwitches,
  types: Schema.partial(Schema.Record({ key: NotificationType, value: TypeSwitches })).annotations(strict),
  digest: Schema.Struct({ email: Schema.Literal("off", "hourly", "daily") }).annotations(strict),
  quietHours: Schema.NullOr(QuietHours)
}).pipe(
  Schema.filter((preferences) =>
    criticalTypes.flatMap((type) =>
      Object.entries(preferences.types).some(([name, switches]) => name === type && switches?.in_app === false)
        ? [{ path: ["types", type, "in_app"], message: `${type} is critical: it cannot be turned off in-app` }]
        : []
    )
  ),
  Schema.annotations({
    parseOptions: strict.parseOptions,
    description: "Which channels tell the user what, per type, with an email digest and quiet hours",
    // The refinement's own `examples` do not reach the document; its JSON Schema takes them.
    jsonSchema: {
      examples: [{
        channels: { in_app: true, email: true, webhook: false },
        types: { "task.updated": { email: false } },
        digest: { email: "daily" },
        quietHours: { start: "22:00", end: "07:00", timeZone: "Europe/Paris" }
      }]
    }
  })
)
export type Preferences = typeof Preferences.Type

/** What a user who never set any gets: every channel on, no per-type exceptions, no digest, no quiet hours. */
export const defaultPreferences: Preferences = {
  channels: { in_app: true, email: true, webhook: true },
  types: {},
  digest: { email: "off" },
  quietHours: null
}

/**
 * Whether a notification of `type` is stored in the user's inbox: always for a critical type; otherwise when the
 * in-app channel is on and the type's own in-app switch, if any, is not off.
 */
export const deliversInApp = (preferences: Preferences, type: string): boolean => {
  if (criticalTypes.includes(type)) return true
  if (!preferences.channels.in_app) return false
  const own = Object.entries(preferences.types).find(([name]) => name === type)?.[1]
  return own?.in_app ?? true
}

/**
 * Whether a notification of `type` is emailed to the user: when the email channel is on and the type's own email
 * switch, if any, is not off. Critical types follow the same rule (only their in-app delivery is guaranteed).
 */
export const deliversEmail = (preferences: Preferences, type: string): boolean => {
  if (!preferences.channels.email) return false
  const own = Object.entries(preferences.types).find(([name]) => name === type)?.[1]
  return own?.email ?? true
}

/** The stored preferences and their version (0 for the defaults of a user who never set any). */
export const VersionedPreferences = Schema.Struct({ version: Schema.Int, preferences: Preferences })
export type VersionedPreferences = typeof VersionedPreferences.Type

/** Published by the users service after a change: the notifications service drops its copy older than `version`. */
export const PreferencesUpdated = Schema.Struct({
  type: Schema.Literal("user.preferences_updated"),
  userId: UserId,
  version: Schema.Int
})

/** The real-time channel `user.preferences_updated` goes out on. */
export const preferencesChannel = "preferences"
