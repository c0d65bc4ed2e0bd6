import { Config, Duration, LogLevel, Option, Redacted } from "effect"
import * as Secrets from "./Secrets.ts"

/**
 * Every setting of the shared infrastructure; each program adds its own `<Service>Config.ts`. The README's table is
 * checked against what they read (services/all-in-one/test/Configuration.test.ts).
 */

// --- servers ---------------------------------------------------------------------------------------------------

export const MongoConfig = Config.all({
  url: Secrets.url("MONGODB_URL"),
  database: Config.string("MONGODB_DATABASE").pipe(
    Config.withDefault("herald"),
    Config.validate({ message: "must match ^[a-zA-Z0-9_-]{1,63}$", validation: (name) => /^[a-zA-Z0-9_-]{1,63}$/.test(name) })
  ),
  connectRetries: Config.integer("MONGODB_CONNECT_RETRIES").pipe(Config.withDefault(6))
})
export type MongoConfig = Config.Config.Success<typeof MongoConfig>

export const RedisConfig = Config.all({
  url: Secrets.url("REDIS_URL"),
  prefix: Config.string("REDIS_PREFIX").pipe(Config.withDefault("herald:")),
  connectRetries: Config.integer("REDIS_CONNECT_RETRIES").pipe(Config.withDefault(5))
})
export type RedisConfig = Config.Config.Success<typeof RedisConfig>

export const AmqpConfig = Config.all({
  url: Secrets.url("AMQP_URL"),
  connectRetries: Config.integer("AMQP_CONNECT_RETRIES").pipe(Config.withDefault(5)),
  /** `quorum` for clustered RabbitMQ (replicated, durable); `classic` for a single node. */
  queueType: Config.literal("classic", "quorum")("AMQP_QUEUE_TYPE").pipe(Config.withDefault("classic")),
  /** Shown by RabbitMQ next to the connection: which process holds it. */
  connectionName: Config.string("AMQP_CONNECTION_NAME").pipe(Config.withDefault("herald"))
})
export type AmqpConfig = Config.Config.Success<typeof AmqpConfig>

/** How long a request waits for the rate limiter's Redis before failing open (or closed). */
export const RateLimiterTimeout = Config.duration("RATE_LIMIT_REDIS_TIMEOUT").pipe(Config.withDefault(Duration.millis(150)))

/** How long a create with an `Idempotency-Key` waits for each Redis command before answering 503. */
export const IdempotencyTimeout = Config.duration("IDEMPOTENCY_REDIS_TIMEOUT").pipe(Config.withDefault(Duration.millis(500)))

// --- HTTP, metrics and internal RPC ----------------------------------------------------------------------------

export const HttpConfig = (defaultPort: number) =>
  Config.all({
    port: Config.port("PORT").pipe(Config.withDefault(defaultPort)),
    host: Config.string("HOST").pipe(Config.withDefault("0.0.0.0"))
  })


export const MetricsConfig = (defaultPort: number) =>
  Config.all({
    port: Config.integer("METRICS_PORT").pipe(
      Config.withDefault(defaultPort),
      Config.validate({ message: "must be a port, 0..65535", validation: (port) => port >= 0 && port <= 65535 })
    ),
    host: Config.string("METRICS_HOST").pipe(Config.withDefault("0.0.0.0"))
  })


/** The shared secret of services run apart: a missing or placeholder one stops start-up (they listen on 0.0.0.0). */
export const RpcSecret = Secrets.required("RPC_SECRET")

/** Where each service answers internal RPC, and the secret that guards it. */
export const ServiceUrlsConfig = Config.all({
  users: Config.string("USERS_URL").pipe(Config.withDefault("http://127.0.0.1:8081/rpc/users")),
  tasks: Config.string("TASKS_URL").pipe(Config.withDefault("http://127.0.0.1:8082/rpc/tasks")),
  notifications: Config.string("NOTIFICATIONS_URL").pipe(Config.withDefault("http://127.0.0.1:8083/rpc/notifications")),
  secret: RpcSecret
})

// --- tokens ----------------------------------------------------------------------------------------------------

export const JwtConfig = Config.all({
  issuer: Config.string("JWT_ISSUER").pipe(Config.withDefault("herald")),
  audience: Config.string("JWT_AUDIENCE").pipe(Config.withDefault("herald-api")),
  accessTokenTtl: Config.duration("ACCESS_TOKEN_TTL").pipe(Config.withDefault(Duration.minutes(15)))
})
export type JwtConfig = Config.Config.Success<typeof JwtConfig>

export const SigningKeyConfig = Config.all({
  /** PKCS#8 PEM of an Ed25519 private key. Unset: a key is generated at start (embedded default only). */
  // Empty counts as unset; `\n` escapes are accepted, since a PEM often travels on one line in env files.
  privateKey: Config.option(Config.redacted("JWT_PRIVATE_KEY")).pipe(
    Config.map(Option.filter((pem) => Redacted.value(pem).trim() !== "")),
    Config.map(Option.map((pem) => Redacted.make(Redacted.value(pem).replaceAll("\\n", "\n"))))
  ),
  /** The `kid` of the configured key; a generated key is always named by its thumbprint. */
  keyId: Config.option(Config.string("JWT_KEY_ID")),
  /** A JWKS (JSON) of retired public keys still accepted while their tokens live out: key rotation. */
  previousKeys: Config.option(Config.string("JWT_PREVIOUS_PUBLIC_KEYS"))
})

// --- consumers -------------------------------------------------------------------------------------------------

/** Sizing of consumer pools, from configuration. */
export const PoolConfig = Config.all({
  workers: Config.integer("CONSUMER_WORKERS").pipe(Config.withDefault(8)),
  prefetch: Config.integer("CONSUMER_PREFETCH").pipe(Config.withDefault(64)),
  mailboxSize: Config.integer("CONSUMER_MAILBOX").pipe(Config.withDefault(16)),
  maxAttempts: Config.integer("CONSUMER_MAX_ATTEMPTS").pipe(Config.withDefault(5))
})

export const RetryDelays = Config.array(Config.integer(), "RETRY_DELAYS_MS").pipe(
  Config.withDefault([1_000, 5_000, 30_000]),
  Config.validate({ message: "must be positive integers", validation: (delays) => delays.length > 0 && delays.every((d) => d > 0) })
)


/** Prefixes every exchange and queue name: tests sharing a virtual host stay apart; empty in deployments. */
export const NamePrefix = Config.string("AMQP_PREFIX").pipe(Config.withDefault(""))

// --- logs ------------------------------------------------------------------------------------------------------

export const LoggingConfig = Config.all({
  level: Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info)),
  format: Config.literal("json", "pretty", "logfmt")("LOG_FORMAT").pipe(Config.withDefault("json"))
})
