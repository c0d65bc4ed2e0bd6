import { Config, Duration } from "effect"

/** Every setting of the gateway's own (the shared infrastructure's are in `@herald/infra/InfraConfig`). */

/** Request bodies and browsers. */
export const EdgeConfig = Config.all({
  maxBodyBytes: Config.integer("MAX_BODY_BYTES").pipe(Config.withDefault(1024 * 1024)),
  corsOrigins: Config.array(Config.string(), "CORS_ORIGINS").pipe(Config.withDefault([]))
})
export type EdgeConfig = Config.Config.Success<typeof EdgeConfig>

/** The rate limits, and how far `X-Forwarded-For` is trusted. */
export const RateLimitConfig = Config.all({
  max: Config.integer("RATE_LIMIT_MAX").pipe(Config.withDefault(100)),
  window: Config.duration("RATE_LIMIT_WINDOW").pipe(Config.withDefault(Duration.minutes(12))),
  authMax: Config.integer("AUTH_RATE_LIMIT_MAX").pipe(Config.withDefault(10)),
  authWindow: Config.duration("AUTH_RATE_LIMIT_WINDOW").pipe(Config.withDefault(Duration.minutes(15))),
  failMode: Config.literal("open", "closed")("RATE_LIMIT_FAIL_MODE").pipe(Config.withDefault("open")),
  trustedProxyHops: Config.integer("TRUSTED_PROXY_HOPS").pipe(Config.withDefault(0))
})
export type RateLimitConfig = Config.Config.Success<typeof RateLimitConfig>

/** The notification stream (WebSocket). */
export const StreamConfig = Config.all({
  heartbeat: Config.duration("STREAM_HEARTBEAT").pipe(Config.withDefault(Duration.seconds(25))),
  maxPerUser: Config.integer("STREAM_MAX_PER_USER").pipe(
    Config.withDefault(8),
    Config.validate({ message: "must be at least 1", validation: (n) => n >= 1 })
  ),
  maxBufferedBytes: Config.integer("STREAM_MAX_BUFFERED_BYTES").pipe(
    Config.withDefault(1024 * 1024),
    Config.validate({ message: "must be at least 1024", validation: (n) => n >= 1024 })
  )
})
export type StreamConfig = Config.Config.Success<typeof StreamConfig>

/** All of them: read and validated at start. */
export const GatewayConfig = Config.all({ edge: EdgeConfig, rateLimit: RateLimitConfig, stream: StreamConfig })
