import type { Preferences } from "@herald/domain/Preferences"
import { DateTime, Option } from "effect"

/** When email is held and how digests are cut, in the user's time zone; pure functions of an instant (epoch millis). */

export type QuietHours = NonNullable<Preferences["quietHours"]>

/** A wall-clock date and time of day (month 1-12), as a clock in some zone shows it. */
interface Wall {
  readonly year: number
  readonly month: number
  readonly day: number
  readonly minutes: number
}

const hour = 60 * 60 * 1000

const zoneOf = (timeZone: string): DateTime.TimeZone =>
  Option.getOrElse(DateTime.zoneMakeNamed(timeZone), () => DateTime.zoneMakeOffset(0))

const wallAt = (millis: number, zone: DateTime.TimeZone): Wall => {
  const parts = DateTime.toParts(DateTime.unsafeMakeZoned(millis, { timeZone: zone }))
  return { year: parts.year, month: parts.month, day: parts.day, minutes: parts.hours * 60 + parts.minutes }
}

/** Orders walls as the calendar does. */
const rank = (wall: Wall) => ((wall.year * 13 + wall.month) * 32 + wall.day) * 1440 + wall.minutes

/** The wall date `days` after `wall`'s (calendar arithmetic, no zone involved). */
const plusDays = (wall: Wall, days: number, minutes: number): Wall => {
  const date = new Date(Date.UTC(wall.year, wall.month - 1, wall.day + days))
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate(), minutes }
}

const instantOf = (wall: Wall, zone: DateTime.TimeZone, disambiguation: "earlier" | "later") =>
  DateTime.toEpochMillis(DateTime.unsafeMakeZoned(
    { year: wall.year, month: wall.month, day: wall.day, hours: Math.floor(wall.minutes / 60), minutes: wall.minutes % 60 },
    { timeZone: zone, adjustForTimeZone: true, disambiguation }
  ))

/**
 * The first instant, not before `notBefore`, at which the zone's clocks show `wall` or later (a wall time in a
 * spring-forward gap: the jump; on the day clocks go back: its second occurrence once the first has passed).
 */
const firstAtOrAfter = (wall: Wall, zone: DateTime.TimeZone, notBefore: number): number => {
  const earlier = instantOf(wall, zone, "earlier")
  const later = instantOf(wall, zone, "later")
  const reached = (millis: number) => rank(wallAt(millis, zone)) >= rank(wall)
  if (rank(wallAt(earlier, zone)) === rank(wall)) return earlier >= notBefore ? earlier : later
  // In a gap "earlier" shows a time before it and "later" one after: the jump lies between.
  let [low, high] = [earlier, later]
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2)
    if (reached(middle)) high = middle
    else low = middle
  }
  return Math.max(high, notBefore)
}

const minutesOf = (time: string) => Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5))

/** Whether the zone's clocks at `millis` show a time inside the quiet hours (`start` included, `end` not). */
export const isQuiet = (millis: number, quiet: QuietHours): boolean => {
  const start = minutesOf(quiet.start)
  const end = minutesOf(quiet.end)
  const { minutes } = wallAt(millis, zoneOf(quiet.timeZone))
  return start < end ? minutes >= start && minutes < end : start > end && (minutes >= start || minutes < end)
}

/**
 * When email due at `millis` may go: then, or when the zone's clocks next reach the quiet hours' `end` (clocks going
 * back do not end them early; equal start and end: no quiet hours).
 */
export const quietUntil = (millis: number, quiet: QuietHours | null): number => {
  if (quiet === null || !isQuiet(millis, quiet)) return millis
  const zone = zoneOf(quiet.timeZone)
  const end = minutesOf(quiet.end)
  const now = wallAt(millis, zone)
  // Inside wrapping hours (22:00-07:00) before midnight, they end on the next day.
  const until = firstAtOrAfter(plusDays(now, now.minutes < end ? 0 : 1, end), zone, millis)
  // Clocks that jump over all the time outside quiet hours (a change at midnight in Santiago) land in them again.
  return isQuiet(until, quiet) ? quietUntil(until, quiet) : until
}

/** The digest window holding `millis`: `[start, end)`; `start` names it. */
export interface Window {
  readonly start: number
  readonly end: number
}

/**
 * Hourly windows: UTC clock hours. Daily: calendar days in the quiet hours' zone, else UTC (23 or 25 hours on
 * daylight-saving days; the README's "Email records").
 */
export const digestWindow = (millis: number, digest: "hourly" | "daily", timeZone: string): Window => {
  if (digest === "hourly") {
    const start = Math.floor(millis / hour) * hour
    return { start, end: start + hour }
  }
  const zone = zoneOf(timeZone)
  const today = wallAt(millis, zone)
  const start = Math.min(firstAtOrAfter(plusDays(today, 0, 0), zone, Number.NEGATIVE_INFINITY), millis)
  return { start, end: firstAtOrAfter(plusDays(today, 1, 0), zone, millis + 1) }
}
