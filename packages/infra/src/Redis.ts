import { type DependencyUnavailable, unavailable } from "@herald/domain/Errors"
import { Config, Context, Data, Duration, Effect, Layer, Option, Redacted } from "effect"
import { Redis as IORedis } from "ioredis"
import { describeUrl } from "./Mongo.ts"
import { backoff } from "./Retry.ts"
import { RedisConfig } from "./InfraConfig.ts"


export class RedisConnectionError extends Data.TaggedError("RedisConnectionError")<{
  readonly message: string
  readonly cause: unknown
}> {}

/** A connected ioredis client and the key prefix that isolates this deployment (or test) in a shared server. */
export class Redis extends Context.Tag("Herald/Redis")<Redis, {
  readonly client: IORedis
  readonly prefix: string
  /** A second connection for SUBSCRIBE, which blocks a connection for anything else. */
  readonly subscriber: Effect.Effect<IORedis, never, never>
  readonly probe: Effect.Effect<void, DependencyUnavailable>
}>() {}

const connectRetry = (retries: number) => backoff({ base: "100 millis", cap: "2 seconds", retries })

const probeTimeout = Duration.seconds(1)

/**
 * Opens a client. Commands fail at once while disconnected (no offline queue), so callers never hang on Redis;
 * `required: false` starts without a reachable Redis (logged, readiness says so) and keeps reconnecting.
 */
export const connect = (config: RedisConfig, options: { readonly required: boolean }) =>
  Effect.gen(function*() {
    const url = Redacted.value(config.url)
    // Until the first connection succeeds, each attempt fails fast and the Effect schedule paces the retries.
    let reconnect = false
    const make = () =>
      new IORedis(url, {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        // Commands issued in the same tick share one write: under load every request's limiter check and
        // revocation lookup would otherwise cost a syscall each.
        enableAutoPipelining: true,
        connectTimeout: 2_000,
        commandTimeout: 2_000,
        retryStrategy: (attempt) => reconnect ? Math.min(100 * 2 ** attempt, 2_000) + Math.floor(Math.random() * 100) : null
      })
    const client = make()
    client.on("error", () => undefined) // surfaced through command failures and readiness instead
    const attempt = Effect.tryPromise({
      try: () => client.connect(),
      catch: (cause) => new RedisConnectionError({ message: `cannot connect to Redis at ${describeUrl(url)}`, cause })
    }).pipe(Effect.tapError((error) => Effect.logWarning(`${error.message}; retrying`)))
    const connected = yield* attempt.pipe(Effect.retry(connectRetry(config.connectRetries)), Effect.either)
    reconnect = true
    if (connected._tag === "Left") {
      if (options.required) {
        client.disconnect()
        return yield* Effect.fail(connected.left)
      }
      yield* Effect.logError(`${connected.left.message}; serving without it and reconnecting in the background`)
      client.connect().catch(() => undefined)
    }
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => client.quit().catch(() => client.disconnect())).pipe(Effect.timeout("2 seconds"), Effect.ignore)
    )
    let subscriberClient: IORedis | undefined
    const subscriber = Effect.sync(() => {
      if (subscriberClient === undefined) {
        // Subscriptions are re-sent by ioredis after a reconnect; the offline queue holds them until then. No INFO
        // ready check nor CLIENT SETINFO: a SUBSCRIBE answered during that handshake made ioredis 5 refuse the INFO, drop
        // the connection and forget the subscription it had just confirmed (ioredis #2037; Stream.test.ts "cold gateway").
        subscriberClient = client.duplicate({ lazyConnect: false, enableOfflineQueue: true, enableReadyCheck: false, disableClientInfo: true })
        subscriberClient.on("error", () => undefined)
      }
      return subscriberClient
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => subscriberClient?.disconnect()))
    const probe = Effect.asVoid(command(() => client.ping()))
    return { client, prefix: config.prefix, subscriber, probe }
  })

export const layer = (config: RedisConfig, options: { readonly required: boolean }) =>
  Layer.scoped(Redis, connect(config, options))

/** Redis from `REDIS_URL`; Redis is optional for the services that use it (they fail open), so start without it. */
export const layerConfig = Layer.unwrapEffect(Effect.map(RedisConfig, (config) => layer(config, { required: false })))

export const isConfigured = Effect.map(Config.option(Config.redacted("REDIS_URL")), Option.isSome)

/**
 * Runs a Redis command as an Effect: a failure or no answer within `timeout` means Redis is unavailable. A timer,
 * not `Effect.timeout`: that cost ~9× the command's own CPU on every request's path (bench/timeouts.ts).
 */
export const command = <A>(run: () => Promise<A>, timeout: Duration.DurationInput = probeTimeout) =>
  Effect.async<A, DependencyUnavailable>((resume) => {
    let settled = false
    const settle = (outcome: Effect.Effect<A, DependencyUnavailable>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resume(outcome)
    }
    const timer = setTimeout(() => settle(Effect.fail(unavailable("redis", "Redis did not answer in time"))), Duration.toMillis(timeout))
    try {
      run().then((value) => settle(Effect.succeed(value)), () => settle(Effect.fail(unavailable("redis"))))
    } catch {
      settle(Effect.fail(unavailable("redis")))
    }
    return Effect.sync(() => {
      settled = true
      clearTimeout(timer)
    })
  })
