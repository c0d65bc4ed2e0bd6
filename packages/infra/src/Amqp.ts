import { type DependencyUnavailable, unavailable } from "@herald/domain/Errors"
import * as amqp from "amqplib"
import {
  Config,
  Data,
  Deferred,
  Duration,
  Effect,
  Layer,
  Option,
  Queue,
  Redacted,
  Ref,
  Runtime,
  Stream,
  SubscriptionRef
} from "effect"
import { type Delivery, Broker, type Headers, type OutgoingMessage, type QueueSpec, type Topology } from "./Broker.ts"
import { describeUrl } from "./Mongo.ts"
import { backoff, forever } from "./Retry.ts"
import { AmqpConfig } from "./InfraConfig.ts"


export class AmqpConnectionError extends Data.TaggedError("AmqpConnectionError")<{
  readonly message: string
  readonly cause: unknown
}> {}

const connectRetry = (retries: number) => backoff({ base: "200 millis", cap: "5 seconds", retries })
/** After the first connection: keep reconnecting as long as the process lives. */
const reconnectSchedule = forever({ base: "250 millis", cap: "10 seconds" })
/** How long a publish waits for a connection before reporting the broker unavailable. */
const publishWait = Duration.seconds(3)

/** Heartbeats every 10 s unless the URL says otherwise: a dead peer is noticed within seconds, not minutes. */
const withHeartbeat = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (!parsed.searchParams.has("heartbeat")) parsed.searchParams.set("heartbeat", "10")
    return parsed.toString()
  } catch {
    return url
  }
}

/** Connects once, with jittered retries, or fails with a typed error naming the broker. */
export const connect = (config: AmqpConfig) => {
  const url = Redacted.value(config.url)
  return Effect.tryPromise({
    try: (signal) => {
      const connecting = amqp.connect(withHeartbeat(url), { clientProperties: { connection_name: config.connectionName } })
      // Interrupted while connecting: whatever connection still arrives is closed, not leaked.
      signal.addEventListener("abort", () => {
        connecting.then((connection) => connection.close()).catch(() => undefined)
      })
      return connecting
    },
    catch: (cause) => new AmqpConnectionError({ message: `cannot connect to RabbitMQ at ${describeUrl(url)}`, cause })
  }).pipe(
    Effect.tapError((error) => Effect.logWarning(`${error.message}; retrying`)),
    Effect.retry(connectRetry(config.connectRetries))
  )
}

export const queueArguments = (queue: QueueSpec, queueType: "classic" | "quorum") => ({
  ...(queueType === "quorum" ? { "x-queue-type": "quorum" } : {}),
  ...(queue.deadLetter
    ? { "x-dead-letter-exchange": queue.deadLetter.exchange, "x-dead-letter-routing-key": queue.deadLetter.routingKey }
    : {}),
  ...(queue.messageTtlMs !== undefined ? { "x-message-ttl": queue.messageTtlMs } : {}),
  ...(queue.singleActiveConsumer ? { "x-single-active-consumer": true } : {}),
  ...(queueType === "quorum" && queue.deliveryLimit !== undefined ? { "x-delivery-limit": queue.deliveryLimit } : {})
})

const declareOn = async (channel: amqp.Channel, topology: Topology, queueType: "classic" | "quorum") => {
  for (const exchange of topology.exchanges) {
    await channel.assertExchange(exchange.name, exchange.type, { durable: true })
  }
  for (const queue of topology.queues) {
    await channel.assertQueue(queue.name, { durable: true, arguments: queueArguments(queue, queueType) })
    for (const binding of queue.bindings) await channel.bindQueue(queue.name, binding.exchange, binding.pattern)
  }
}

interface Live {
  readonly connection: amqp.ChannelModel
  readonly publisher: amqp.ConfirmChannel
  readonly closed: Deferred.Deferred<void>
}

const headersOf = (message: amqp.Message): Headers => {
  const result: Record<string, string | number | boolean> = {}
  for (const [key, value] of Object.entries(message.properties.headers ?? {})) {
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") result[key] = value
  }
  return result
}

const stringProperty = (value: unknown): string | undefined => typeof value === "string" ? value : undefined

/**
 * The broker on RabbitMQ. A supervisor fiber owns the connection: it connects (retrying forever with jittered
 * backoff), declares the topology, opens the confirm channel for publishing, and when the connection dies starts
 * over; consumers follow it onto each new connection. amqplib reconnects nothing by itself.
 */
export const layer = (config: AmqpConfig) =>
  Layer.scoped(
    Broker,
    Effect.gen(function*() {
      const url = Redacted.value(config.url)
      const current = yield* SubscriptionRef.make(Option.none<Live>())
      const topologies = yield* Ref.make<ReadonlyArray<Topology>>([])
      const runtime = yield* Effect.runtime<never>()

      const open = (connection: amqp.ChannelModel) =>
        Effect.gen(function*() {
          const closed = yield* Deferred.make<void>()
          const onClose = () => Runtime.runSync(runtime)(Deferred.succeed(closed, undefined))
          connection.on("close", onClose)
          connection.on("error", () => undefined) // a 'close' always follows
          const publisher = yield* Effect.tryPromise(async () => {
            const setup = await connection.createChannel()
            for (const topology of Runtime.runSync(runtime)(Ref.get(topologies))) {
              await declareOn(setup, topology, config.queueType)
            }
            await setup.close()
            const channel = await connection.createConfirmChannel()
            channel.on("error", () => undefined)
            // A publish channel closed by the broker (e.g. a bad exchange) takes the connection down with it, so
            // the supervisor rebuilds everything rather than publishing into a dead channel.
            channel.on("close", () => connection.close().catch(() => undefined))
            return channel
          })
          return { connection, publisher, closed }
        })

      const establish = (connection: amqp.ChannelModel) =>
        open(connection).pipe(
          Effect.tap((live) => SubscriptionRef.set(current, Option.some(live))),
          Effect.tap(() => Effect.logInfo(`connected to RabbitMQ at ${describeUrl(url)}`)),
          Effect.tapError(() => Effect.promise(() => connection.close().catch(() => undefined)))
        )
      const session = (live: Live) =>
        Deferred.await(live.closed).pipe(
          Effect.zipRight(SubscriptionRef.set(current, Option.none())),
          Effect.zipRight(Effect.logWarning("RabbitMQ connection lost; reconnecting"))
        )
      const supervise = connect({ ...config, connectRetries: 0 }).pipe(
        Effect.retry(reconnectSchedule),
        Effect.flatMap(establish),
        Effect.flatMap(session),
        Effect.catchAllCause((cause) => Effect.logWarning("RabbitMQ connection setup failed; retrying", cause)),
        Effect.zipRight(Effect.sleep("200 millis")),
        Effect.forever
      )

      // Registered before the supervisor is forked, so it runs after the supervisor has been interrupted: a closing
      // connection must not look like a lost one.
      yield* Effect.addFinalizer(() =>
        SubscriptionRef.get(current).pipe(
          Effect.flatMap(Option.match({
            onNone: () => Effect.void,
            onSome: (live) => Effect.promise(() => live.connection.close().catch(() => undefined))
          })),
          Effect.timeout("3 seconds"),
          Effect.ignore
        )
      )

      // The first connection is awaited within the start-up retry budget (so the topology exists once the layer is
      // built); after that, or without it, the supervisor keeps a connection alive in the background.
      const first = yield* connect(config).pipe(Effect.flatMap(establish), Effect.option)
      if (Option.isNone(first)) {
        yield* Effect.logError(`cannot reach RabbitMQ at ${describeUrl(url)}; starting without it and reconnecting`)
      }
      yield* Option.match(first, { onNone: () => Effect.void, onSome: session }).pipe(
        Effect.zipRight(supervise),
        Effect.forkScoped
      )

      const nextLive: Effect.Effect<Live> = current.changes.pipe(
        Stream.filterMap((live) => live),
        Stream.runHead,
        Effect.flatMap(Option.match({ onNone: () => Effect.never, onSome: Effect.succeed }))
      )
      const awaitLive = (timeout: Duration.Duration): Effect.Effect<Live, DependencyUnavailable> =>
        nextLive.pipe(Effect.timeoutFail({ duration: timeout, onTimeout: () => unavailable("rabbitmq") }))

      const publish = (message: OutgoingMessage) =>
        Effect.flatMap(awaitLive(publishWait), (live) =>
          Effect.async<void, DependencyUnavailable>((resume) => {
            try {
              live.publisher.publish(message.exchange, message.routingKey, Buffer.from(message.body), {
                persistent: true,
                contentType: "application/json",
                ...(message.messageId !== undefined ? { messageId: message.messageId } : {}),
                ...(message.type !== undefined ? { type: message.type } : {}),
                ...(message.headers !== undefined ? { headers: message.headers } : {})
              }, (error: unknown) => {
                resume(error ? Effect.fail(unavailable("rabbitmq", "RabbitMQ refused the message")) : Effect.void)
              })
            } catch {
              resume(Effect.fail(unavailable("rabbitmq", "RabbitMQ channel is closed")))
            }
          }).pipe(
            Effect.timeoutFail({
              duration: publishWait,
              onTimeout: () => unavailable("rabbitmq", "RabbitMQ did not confirm in time")
            })
          ))

      const consume = (queue: string, options: { readonly prefetch: number }) =>
        Effect.gen(function*() {
          const inbox = yield* Effect.acquireRelease(Queue.bounded<Delivery>(options.prefetch), Queue.shutdown)
          const cancelled = yield* Deferred.make<void>()
          const channelRef = yield* Ref.make(Option.none<{ channel: amqp.Channel; tag: string }>())

          const runOn = (live: Live) =>
            Effect.gen(function*() {
              const ended = yield* Deferred.make<void>()
              const channel = yield* Effect.tryPromise(() => live.connection.createChannel())
              let open = true
              channel.on("error", () => undefined)
              channel.on("close", () => {
                open = false
                Runtime.runSync(runtime)(Deferred.succeed(ended, undefined))
              })
              const settle = (run: () => void) => Effect.sync(() => {
                if (open) run()
              })
              yield* Effect.tryPromise(() => channel.prefetch(options.prefetch))
              const { consumerTag } = yield* Effect.tryPromise(() =>
                channel.consume(queue, (message) => {
                  if (message === null) {
                    // The broker cancelled us (queue deleted or failed over): start over on a new channel.
                    channel.close().catch(() => undefined)
                    return
                  }
                  const delivery: Delivery = {
                    body: message.content.toString("utf8"),
                    exchange: message.fields.exchange,
                    routingKey: message.fields.routingKey,
                    messageId: stringProperty(message.properties.messageId),
                    type: stringProperty(message.properties.type),
                    headers: headersOf(message),
                    redelivered: message.fields.redelivered,
                    ack: settle(() => channel.ack(message)),
                    requeue: settle(() => channel.nack(message, false, true))
                  }
                  Runtime.runFork(runtime)(Queue.offer(inbox, delivery))
                }, { noAck: false })
              )
              yield* Ref.set(channelRef, Option.some({ channel, tag: consumerTag }))
              yield* Effect.raceFirst(Deferred.await(ended), Deferred.await(cancelled))
              // Still cancelled-but-open here: leave the channel open so in-flight deliveries can be acked.
            })

          // Follow the connection: consume on each new one until cancelled.
          yield* Effect.gen(function*() {
            const live = yield* nextLive
            yield* runOn(live).pipe(
              Effect.catchAllCause((cause) => Effect.logWarning(`consumer of ${queue} lost its channel`, cause))
            )
            return yield* Deferred.isDone(cancelled)
          }).pipe(
            Effect.tap((stopped) => stopped ? Effect.void : Effect.sleep("250 millis")),
            Effect.repeat({ until: (stopped) => stopped }),
            Effect.forkScoped
          )

          const cancel = Effect.gen(function*() {
            yield* Deferred.succeed(cancelled, undefined)
            const active = yield* Ref.get(channelRef)
            if (Option.isSome(active)) {
              yield* Effect.promise(() => active.value.channel.cancel(active.value.tag).catch(() => undefined))
            }
          })
          yield* Effect.addFinalizer(() =>
            Ref.get(channelRef).pipe(
              Effect.flatMap(Option.match({
                onNone: () => Effect.void,
                onSome: ({ channel }) => Effect.promise(() => channel.close().catch(() => undefined))
              }))
            )
          )
          return { deliveries: Stream.fromQueue(inbox), cancel }
        })

      return Broker.of({
        kind: "rabbitmq",
        declare: (topology) =>
          Effect.gen(function*() {
            yield* Ref.update(topologies, (all) => [...all, topology])
            const live = yield* SubscriptionRef.get(current)
            if (Option.isSome(live)) {
              yield* Effect.tryPromise(async () => {
                const channel = await live.value.connection.createChannel()
                await declareOn(channel, topology, config.queueType)
                await channel.close()
              }).pipe(Effect.catchAll((error) => Effect.logWarning("declaring RabbitMQ topology failed", error)))
            }
          }),
        publish,
        consume,
        probe: SubscriptionRef.get(current).pipe(
          Effect.flatMap(Option.match({
            onNone: () => Effect.fail(unavailable("rabbitmq")),
            onSome: () => Effect.void
          }))
        )
      })
    })
  )

export const layerConfig = Layer.unwrapEffect(Effect.map(AmqpConfig, layer))

export const isConfigured = Effect.map(Config.option(Config.redacted("AMQP_URL")), Option.isSome)
