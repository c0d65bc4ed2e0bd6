import { Effect, Layer } from "effect"
import * as Amqp from "./Amqp.ts"
import type { Broker } from "./Broker.ts"
import * as Cache from "./Cache.ts"
import * as Idempotency from "./Idempotency.ts"
import * as MemoryBroker from "./MemoryBroker.ts"
import * as MemoryStore from "./MemoryStore.ts"
import * as Mongo from "./Mongo.ts"
import * as RateLimiter from "./RateLimiter.ts"
import * as Realtime from "./Realtime.ts"
import * as Redis from "./Redis.ts"
import type { DocumentStore } from "./Store.ts"
import { IdempotencyTimeout, RateLimiterTimeout } from "./InfraConfig.ts"

/**
 * The choice every `main` makes: the real server when its URL is configured, the embedded in-memory twin (which
 * passes the same contract tests) when it is not. Each choice is logged, so nobody runs on memory by surprise.
 */

const choose = <A, E1, R1, E2, R2>(
  configured: Effect.Effect<boolean, unknown>,
  name: string,
  real: Layer.Layer<A, E1, R1>,
  embedded: Layer.Layer<A, E2, R2>
): Layer.Layer<A, E1 | E2, R1 | R2> => {
  const pick = (isConfigured: boolean): Layer.Layer<A, E1 | E2, R1 | R2> =>
    isConfigured
      ? Layer.merge(real, Layer.effectDiscard(Effect.logInfo(`using ${name}`)))
      : Layer.merge(
        embedded,
        Layer.effectDiscard(Effect.logWarning(`${name} is not configured: using the in-memory twin (nothing survives a restart)`))
      )
  return Layer.unwrapEffect(Effect.map(Effect.orDie(configured), pick))
}

/** `DocumentStore` on MongoDB (`MONGODB_URL`) or in memory. */
export const store: Layer.Layer<DocumentStore, unknown> = choose(
  Mongo.isConfigured,
  "MongoDB (MONGODB_URL)",
  Mongo.layerStore.pipe(Layer.provide(Mongo.layerDatabaseConfig)),
  MemoryStore.layerMemory
)

/** Rate limiter, versioned cache, real-time bus and idempotency records on Redis (`REDIS_URL`) or in memory. */
export const redisCapabilities = choose(
  Redis.isConfigured,
  "Redis (REDIS_URL)",
  Layer.mergeAll(
    Layer.unwrapEffect(Effect.map(RateLimiterTimeout, (timeout) => RateLimiter.layerRedis({ timeout }))),
    Cache.layerRedis,
    Realtime.layerRedis,
    Layer.unwrapEffect(Effect.map(IdempotencyTimeout, (timeout) => Idempotency.layerRedis({ timeout })))
  ).pipe(Layer.provide(Redis.layerConfig)),
  Layer.mergeAll(RateLimiter.layerMemory, Cache.layerMemory, Realtime.layerMemory, Idempotency.layerMemory)
)

/** The broker on RabbitMQ (`AMQP_URL`) or in memory. */
export const broker: Layer.Layer<Broker, unknown> = choose(
  Amqp.isConfigured,
  "RabbitMQ (AMQP_URL)",
  Amqp.layerConfig,
  MemoryBroker.layerMemory
)
