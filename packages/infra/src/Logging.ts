import { Config, Effect, Layer, Logger, LogLevel } from "effect"

export const LoggingConfig = Config.all({
  level: Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info)),
  format: Config.literal("json", "pretty", "logfmt")("LOG_FORMAT").pipe(Config.withDefault("json"))
})

/** Structured logs: JSON lines by default (one object per line, with annotations such as `requestId`). */
export const layer = Layer.unwrapEffect(
  Effect.map(LoggingConfig, ({ format, level }) =>
    Layer.merge(
      format === "json" ? Logger.json : format === "pretty" ? Logger.pretty : Logger.logFmt,
      Logger.minimumLogLevel(level)
    )
  )
)
