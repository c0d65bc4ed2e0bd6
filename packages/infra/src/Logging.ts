import { Effect, Layer, Logger } from "effect"
import { LoggingConfig } from "./InfraConfig.ts"


/** Structured logs: JSON lines by default (one object per line, with annotations such as `requestId`). */
export const layer = Layer.unwrapEffect(
  Effect.map(LoggingConfig, ({ format, level }) =>
    Layer.merge(
      format === "json" ? Logger.json : format === "pretty" ? Logger.pretty : Logger.logFmt,
      Logger.minimumLogLevel(level)
    )
  )
)
