import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { digestWindow, isQuiet, type QuietHours, quietUntil } from "../src/EmailSchedule.ts"

const at = (iso: string) => Date.parse(iso)
const iso = (millis: number) => new Date(millis).toISOString()
const paris = (start: string, end: string): QuietHours => ({ start, end, timeZone: "Europe/Paris" })
const newYork = (start: string, end: string): QuietHours => ({ start, end, timeZone: "America/New_York" })

/** The zone's clock and calendar at an instant, read with Intl on its own (not the code under test). */
const formats = new Map<string, Intl.DateTimeFormat>()
const clock = (millis: number, timeZone: string) => {
  const format = formats.get(timeZone) ??
    new Intl.DateTimeFormat("en-GB", { timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" })
  formats.set(timeZone, format)
  const parts = Object.fromEntries(
    format.formatToParts(new Date(millis))
      .map((part) => [part.type, part.value])
  )
  return { date: `${parts.year}-${parts.month}-${parts.day}`, minutes: Number(parts.hour) * 60 + Number(parts.minute) }
}
const minutes = (time: string) => Number(time.slice(0, 2)) * 60 + Number(time.slice(3))
const quietByIntl = (millis: number, quiet: QuietHours) => {
  const { minutes: now } = clock(millis, quiet.timeZone)
  const [start, end] = [minutes(quiet.start), minutes(quiet.end)]
  return start < end ? now >= start && now < end : start > end && (now >= start || now < end)
}

// Zones with daylight-saving changes at 02:00 or 03:00, at midnight (Santiago), by 30 minutes (Lord Howe), with a
// quarter-hour offset (Chatham), in the southern hemisphere, and without any.
const zones = ["Europe/Paris", "America/New_York", "America/Santiago", "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kolkata", "UTC"]
const hour = 60 * 60 * 1000
const offsetAt = (millis: number, zone: string) => {
  const { date, minutes: now } = clock(millis, zone)
  return Date.parse(`${date}T00:00:00Z`) + now * 60_000 - Math.floor(millis / 60_000) * 60_000
}
/** The hours of 2031 in which each zone's clocks change (found with Intl): where the edge cases are. */
const changes = zones.flatMap((zone) =>
  Array.from({ length: 365 * 24 }, (_, index) => at("2031-01-01T00:00:00Z") + index * hour).filter((t) => offsetAt(t, zone) !== offsetAt(t + hour, zone))
)
// Half the instants near a change (within 30 hours), and half the times of day in the small hours, where changes fall.
const instant = fc.oneof(
  fc.integer({ min: at("2030-01-01T00:00:00Z"), max: at("2033-01-01T00:00:00Z") }),
  fc.tuple(fc.constantFrom(...changes), fc.integer({ min: -30 * hour, max: 30 * hour })).map(([change, offset]) => change + offset)
)
const clockTime = fc.oneof(fc.integer({ min: 0, max: 1439 }), fc.integer({ min: 0, max: 48 }).map((m) => m * 5))
  .map((m) => `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`)
const quietHours = fc.record({ start: clockTime, end: clockTime, timeZone: fc.constantFrom(...zones) })

describe("quiet hours", () => {
  it("hold email to their end across midnight and both of Paris' 2031 daylight-saving changes", () => {
    // 23:30 CET on the night clocks go forward: 07:00 is CEST (UTC+2), seven and a half hours away, not eight and a half.
    expect(iso(quietUntil(at("2031-03-29T22:30:00Z"), paris("22:00", "07:00")))).toBe("2031-03-30T05:00:00.000Z")
    // 23:00 CEST on the night clocks go back: 07:00 is CET (UTC+1), nine hours away.
    expect(iso(quietUntil(at("2031-10-25T21:00:00Z"), paris("22:00", "07:00")))).toBe("2031-10-26T06:00:00.000Z")
    // An end inside the skipped hour (02:30): over when the clocks jump from 02:00 to 03:00.
    expect(iso(quietUntil(at("2031-03-30T00:30:00Z"), paris("01:00", "02:30")))).toBe("2031-03-30T01:00:00.000Z")
    // An end inside the repeated hour: its first occurrence, or its second once the clocks have gone back past it.
    expect(iso(quietUntil(at("2031-10-26T00:10:00Z"), paris("22:00", "02:30")))).toBe("2031-10-26T00:30:00.000Z")
    expect(iso(quietUntil(at("2031-10-26T01:10:00Z"), paris("22:00", "02:30")))).toBe("2031-10-26T01:30:00.000Z")
    // Quiet from 02:30 CEST: when clocks go back to 02:00 CET, quiet hours do not end for the half hour before 02:30.
    expect(iso(quietUntil(at("2031-10-26T00:40:00Z"), paris("02:30", "07:00")))).toBe("2031-10-26T06:00:00.000Z")
    // Outside quiet hours, at the start (included) and at the end (excluded); equal start and end hold nothing.
    expect(iso(quietUntil(at("2031-10-26T12:00:00Z"), paris("22:00", "07:00")))).toBe("2031-10-26T12:00:00.000Z")
    expect(iso(quietUntil(at("2031-06-01T20:00:00Z"), paris("22:00", "07:00")))).toBe("2031-06-02T05:00:00.000Z")
    expect(iso(quietUntil(at("2031-06-02T05:00:00Z"), paris("22:00", "07:00")))).toBe("2031-06-02T05:00:00.000Z")
    expect(iso(quietUntil(at("2031-06-02T05:00:00Z"), paris("07:00", "07:00")))).toBe("2031-06-02T05:00:00.000Z")
    // Not wrapping: 09:00 to 17:00.
    expect(iso(quietUntil(at("2031-06-02T08:00:00Z"), paris("09:00", "17:00")))).toBe("2031-06-02T15:00:00.000Z")
    expect(quietUntil(at("2031-06-02T08:00:00Z"), null)).toBe(at("2031-06-02T08:00:00Z"))
  })

  it("in New York, 2031: the spring gap (March 9) and the autumn repeat (November 2)", () => {
    // 01:30 EST; 02:30 does not exist: clocks jump from 02:00 EST to 03:00 EDT at 07:00Z.
    expect(iso(quietUntil(at("2031-03-09T06:30:00Z"), newYork("22:00", "02:30")))).toBe("2031-03-09T07:00:00.000Z")
    // 23:00 EDT on November 1: 06:30 is EST (UTC-5).
    expect(iso(quietUntil(at("2031-11-02T03:00:00Z"), newYork("23:00", "06:30")))).toBe("2031-11-02T11:30:00.000Z")
    expect(iso(quietUntil(at("2031-03-09T03:00:00Z"), newYork("22:00", "07:00")))).toBe("2031-03-09T11:00:00.000Z")
  })

  it("property: the hold ends when the zone's clock reaches the end (or jumps past it) at a time outside the quiet hours, with no earlier way out", () => {
    fc.assert(
      fc.property(instant, quietHours, (now, quiet) => {
        const until = quietUntil(now, quiet)
        expect(isQuiet(now, quiet)).toBe(quietByIntl(now, quiet))
        if (!quietByIntl(now, quiet)) {
          expect(until).toBe(now)
          return
        }
        expect(until).toBeGreaterThan(now)
        expect(until - now).toBeLessThanOrEqual(49 * hour)
        expect(quietByIntl(until, quiet)).toBe(false)
        const jumped = offsetAt(until - 60_000, quiet.timeZone) !== offsetAt(until, quiet.timeZone)
        expect(clock(until, quiet.timeZone).minutes === minutes(quiet.end) || jumped).toBe(true)
        // Before it, the clock shows quiet hours, but near clocks going back (a time outside them shown again).
        for (let t = now; t < until; t += 13 * 60 * 1000) {
          expect(quietByIntl(t, quiet) || offsetAt(t - hour, quiet.timeZone) > offsetAt(t + hour, quiet.timeZone)).toBe(true)
        }
      }),
      { numRuns: 1500 }
    )
  })
})

describe("digest windows", () => {
  it("hourly: the UTC clock hour; daily: the calendar day in the zone, 23 or 25 hours long on Paris' change days", () => {
    const hourly = digestWindow(at("2031-10-26T12:34:56Z"), "hourly", "Europe/Paris")
    expect([iso(hourly.start), iso(hourly.end)]).toEqual(["2031-10-26T12:00:00.000Z", "2031-10-26T13:00:00.000Z"])
    const spring = digestWindow(at("2031-03-30T12:00:00Z"), "daily", "Europe/Paris")
    expect([iso(spring.start), iso(spring.end)]).toEqual(["2031-03-29T23:00:00.000Z", "2031-03-30T22:00:00.000Z"])
    const autumn = digestWindow(at("2031-10-26T12:00:00Z"), "daily", "Europe/Paris")
    expect([iso(autumn.start), iso(autumn.end)]).toEqual(["2031-10-25T22:00:00.000Z", "2031-10-26T23:00:00.000Z"])
    const utc = digestWindow(at("2031-10-26T23:59:59Z"), "daily", "UTC")
    expect([iso(utc.start), iso(utc.end)]).toEqual(["2031-10-26T00:00:00.000Z", "2031-10-27T00:00:00.000Z"])
  })

  it("property: a daily window holds the instant and is exactly its calendar day on the zone's clocks", () => {
    fc.assert(
      fc.property(instant, fc.constantFrom(...zones), (now, zone) => {
        const { end, start } = digestWindow(now, "daily", zone)
        const today = clock(now, zone).date
        expect(start).toBeLessThanOrEqual(now)
        expect(end).toBeGreaterThan(now)
        expect([clock(start, zone).date, clock(end - 1, zone).date]).toEqual([today, today])
        expect([clock(start - 1, zone).date, clock(end, zone).date].includes(today)).toBe(false)
        // Every instant of the day names the same window.
        expect(digestWindow(start, "daily", zone)).toEqual({ start, end })
        expect(digestWindow(end - 1, "daily", zone)).toEqual({ start, end })
      }),
      { numRuns: 800 }
    )
  })
})
