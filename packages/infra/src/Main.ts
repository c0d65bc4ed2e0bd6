import { NodeRuntime } from "@effect/platform-node"
import { Cause, ConfigError, ConfigProvider, Effect, Layer } from "effect"
import * as Logging from "./Logging.ts"

/**
 * The process environment as configuration, where a variable set to the empty string (or to blanks) is unset:
 * `MONGODB_URL=` in an env file means "no MongoDB", not a URL to retry. Read once, at start.
 */
const environment = (env: Record<string, string | undefined> = process.env): ConfigProvider.ConfigProvider =>
  ConfigProvider.fromMap(
    new Map(Object.entries(env).flatMap(([name, value]) => value === undefined || value.trim() === "" ? [] : [[name, value]])),
    // fromEnv's delimiters, so nested and list settings read as they did.
    { pathDelim: "_", seqDelim: "," }
  )

const firstLine = (text: string) => text.split("\n", 1)[0]?.trim() ?? ""

/** What stopped a program, in one line an operator can act on: a bad setting names its variable; no stack trace. */
const describe = <E>(cause: Cause.Cause<E>): string => {
  const error: unknown = Cause.squash(cause)
  if (ConfigError.isConfigError(error)) return `configuration error ${firstLine(String(error))}`
  if (error instanceof Error) {
    const name = "_tag" in error && typeof error._tag === "string" ? error._tag : error.name
    return firstLine(`${name}: ${error.message}`)
  }
  return firstLine(String(error))
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
    Effect.withConfigProvider(environment()),
    NodeRuntime.runMain({ disablePrettyLogger: true, disableErrorReporting: true })
  )
