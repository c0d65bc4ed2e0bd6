import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Internal } from "@herald/all-in-one/Herald"
import * as Logging from "@herald/infra/Logging"
import * as Metrics from "@herald/infra/Metrics"
import * as Platform from "@herald/infra/Platform"
import { servers, uniqueName } from "./Env.ts"
import { DocumentStore } from "@herald/infra/Store"
import { ConfigProvider, Context, Duration, Effect, Layer } from "effect"
import { createServer } from "node:http"
import * as Gateway from "@herald/gateway/Routes"

/** A running Herald, as a test reaches it: its base URL and the settings it runs with. */
export class TestSystem extends Context.Tag("Herald/TestSystem")<TestSystem, {
  readonly url: string
  /** Prometheus metrics of the whole system (one process), on their internal port. */
  readonly metricsUrl: string
  readonly env: TestEnv
}>() {}

/** The settings of a test system on this run's real servers, isolated by names of its own. */
export interface TestEnv extends Record<string, string> {
  readonly MONGODB_DATABASE: string
  readonly REDIS_PREFIX: string
  readonly AMQP_PREFIX: string
}

export const testEnv = (label: string, overrides: Record<string, string> = {}): TestEnv => {
  const name = uniqueName(label)
  const { amqpUrl, mongodbUrl, redisUrl } = servers()
  return {
    MONGODB_URL: mongodbUrl,
    MONGODB_DATABASE: name,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: `${name}:`,
    AMQP_URL: amqpUrl,
    AMQP_PREFIX: `${name}.`,
    AMQP_CONNECTION_NAME: name,
    BCRYPT_COST: "4",
    RATE_LIMIT_MAX: "1000000",
    AUTH_RATE_LIMIT_MAX: "1000000",
    RETRY_DELAYS_MS: "100,300",
    METRICS_PORT: "0",
    LOG_LEVEL: "Error",
    LOG_FORMAT: "logfmt",
    ...overrides
  } satisfies TestEnv
}

/** The store with every insert into `collection` delayed, by `delay` per document: a slow database, for backpressure tests. */
const slowInserts = (collection: string, delay: Duration.DurationInput) =>
  Layer.effect(
    DocumentStore,
    Effect.map(DocumentStore, (store) =>
      DocumentStore.of({
        ...store,
        collection: (spec) =>
          Effect.map(store.collection(spec), (opened) =>
            spec.name === collection
              ? {
                ...opened,
                insertOne: (doc) => Effect.zipRight(Effect.sleep(delay), opened.insertOne(doc)),
                insertMany: (docs) => Effect.zipRight(Effect.sleep(Duration.times(delay, docs.length)), opened.insertMany(docs))
              }
              : opened)
      }))
  ).pipe(Layer.provide(Platform.store))

/**
 * The real composition of Herald in this process: the gateway on an ephemeral loopback port in front of the three
 * services, on the run's MongoDB-wire server, Redis and RabbitMQ (or on the embedded twins, for `embedded`).
 */
export const layer = (
  label: string,
  options: {
    readonly env?: Record<string, string>
    readonly embedded?: boolean
    readonly slowInserts?: { readonly collection: string; readonly delay: Duration.DurationInput }
  } = {}
) => {
  const base = testEnv(label, options.env)
  const { AMQP_URL: _amqp, MONGODB_URL: _mongodb, REDIS_URL: _redis, ...embedded } = base
  const env: TestEnv = options.embedded ? embedded : base
  const address = Layer.effect(
    TestSystem,
    Effect.all({ server: HttpServer.HttpServer, metrics: Metrics.MetricsServer }).pipe(Effect.map(({ metrics, server }) => ({
      url: `http://127.0.0.1:${server.address._tag === "TcpAddress" ? server.address.port : 0}`,
      metricsUrl: metrics.url,
      env
    })))
  ).pipe(Layer.provide(Metrics.serve(0)))
  return Layer.merge(Gateway.serve({ disableListenLog: true }), address).pipe(
    Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provide(Internal),
    Layer.provide([
      options.slowInserts ? slowInserts(options.slowInserts.collection, options.slowInserts.delay) : Platform.store,
      Platform.broker,
      Platform.redisCapabilities
    ]),
    Layer.provide(Logging.layer),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
  )
}
