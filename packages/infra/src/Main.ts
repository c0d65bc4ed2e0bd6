import { NodeRuntime } from "@effect/platform-node"
import { Cause, ConfigError, Effect, Layer } from "effect"
import * as Logging from "./Logging.ts"

/** What stopped a program, in one line an operator can act on: a bad setting names its variable. */
const describe = <E>(cause: Cause.Cause<E>): string => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some" && ConfigError.isConfigError(failure.value)) {
    return `configuration error ${String(failure.value)}`
  }
  return Cause.pretty(cause)
}

/**
 * Runs a program made of layers until it is interrupted (SIGINT/SIGTERM: a graceful shutdown, exit 0). A failure
 * to start, such as a missing or bad setting, is logged as one clear line and the process exits with 1.
 */
export const run = <E>(program: string, app: Layer.Layer<never, E>) =>
  Layer.launch(app).pipe(
    Effect.tapErrorCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError(`${program} stopped: ${describe(cause)}`)),
    // A bad LOG_LEVEL or LOG_FORMAT must still be reported: the default logger takes over, and the program,
    // which reads the same settings, fails with a message naming the variable.
    Effect.provide(Logging.layer.pipe(Layer.catchAll(() => Layer.empty))),
    NodeRuntime.runMain({ disablePrettyLogger: true, disableErrorReporting: true })
  )
