import { Duration, Schedule } from "effect"

/**
 * Jittered exponential backoff with a ceiling on each delay, for a bounded number of retries: the shape of every
 * retry at Herald's edges (connecting, publishing, consuming). Each caller names its own instance next to the code
 * it protects.
 */
export const backoff = (options: {
  readonly base: Duration.DurationInput
  readonly cap: Duration.DurationInput
  readonly retries: number
}) =>
  Schedule.exponential(options.base, 2).pipe(
    Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.decode(options.cap))),
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(options.retries))
  )

/** The same backoff without a retry limit: for loops that must keep trying while the process lives. */
export const forever = (options: { readonly base: Duration.DurationInput; readonly cap: Duration.DurationInput }) =>
  Schedule.exponential(options.base, 2).pipe(
    Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.decode(options.cap))),
    Schedule.jittered
  )
