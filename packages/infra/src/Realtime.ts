import type { DependencyUnavailable } from "@herald/domain/Errors"
import { Context, Effect, Exit, Layer, Queue, RcMap, Scope, Stream } from "effect"
import { command, Redis } from "./Redis.ts"
import { backoff } from "./Retry.ts"

/**
 * Fan-out of real-time messages to whichever process holds the listener: a notification stored by any
 * notifications copy reaches a client connected to any gateway copy. At most once by design: a client that
 * reconnects asks for what it missed (`?since=`).
 */
export class RealtimeBus extends Context.Tag("Herald/RealtimeBus")<RealtimeBus, {
  readonly publish: (channel: string, message: string) => Effect.Effect<void, DependencyUnavailable>
  /** Messages of `channel` from now until the scope closes. A listener that falls far behind loses the oldest. */
  readonly subscribe: (channel: string) => Effect.Effect<Stream.Stream<string>, never, Scope.Scope>
}>() {}

/** The channel of a user's real-time messages: the notifications service publishes there, the gateways listen. */
export const userChannel = (userId: string) => `user:${userId}`

/** Subscribing while the subscriber connection (re)connects: jittered, capped, about ten seconds in all. */
const subscribeRetry = backoff({ base: "50 millis", cap: "2 seconds", retries: 8 })

/** What one listener may have waiting before the oldest are dropped: a stalled socket must not hold memory. */
const listenerBacklog = 512

/**
 * The listeners of this process by channel: one transport subscription per channel, made before the first listener's
 * `subscribe` returns (later ones wait for it) and ended once the last has left.
 */
const makeListeners = (transport: {
  readonly subscribe: (channel: string) => Effect.Effect<void>
  readonly unsubscribe: (channel: string) => Effect.Effect<void>
}) =>
  Effect.gen(function*() {
    // Read by `deliver`, which the transport calls synchronously for every message.
    const listening = new Map<string, Set<Queue.Queue<string>>>()
    const channels = yield* RcMap.make({
      lookup: (channel: string) =>
        Effect.gen(function*() {
          const queues = new Set<Queue.Queue<string>>()
          yield* Effect.acquireRelease(Effect.sync(() => listening.set(channel, queues)), () => Effect.sync(() => listening.delete(channel)))
          yield* Effect.acquireRelease(transport.subscribe(channel), () => transport.unsubscribe(channel))
          return queues
        })
    })
    // A channel's first listener waits until the last one's unsubscribe is done: subscribing before it would be undone by it.
    const turns = yield* RcMap.make({ lookup: (_: string) => Effect.makeSemaphore(1) })
    const deliver = (channel: string, message: string) => {
      const queues = listening.get(channel)
      if (queues !== undefined) for (const queue of queues) Queue.unsafeOffer(queue, message)
    }
    const listen = (channel: string) =>
      Effect.gen(function*() {
        const turn = yield* RcMap.get(turns, channel)
        const queue = yield* Effect.acquireRelease(Queue.sliding<string>(listenerBacklog), Queue.shutdown)
        yield* Effect.acquireRelease(
          turn.withPermits(1)(Effect.gen(function*() {
            const held = yield* Scope.make()
            const queues = yield* RcMap.get(channels, channel).pipe(Scope.extend(held), Effect.onError((cause) => Scope.close(held, Exit.failCause(cause))))
            queues.add(queue)
            return { held, queues }
          })),
          ({ held, queues }) => turn.withPermits(1)(Effect.zipRight(Effect.sync(() => queues.delete(queue)), Scope.close(held, Exit.void)))
        )
        return Stream.fromQueue(queue)
      })
    return { deliver, listen }
  })

export const layerRedis: Layer.Layer<RealtimeBus, never, Redis> = Layer.scoped(
  RealtimeBus,
  Effect.gen(function*() {
    const redis = yield* Redis
    const prefix = `${redis.prefix}rt:`
    const subscriber = Effect.tap(redis.subscriber, (client) =>
      Effect.sync(() => {
        if (client.listenerCount("message") === 0) {
          client.on("message", (channel: string, message: string) => listeners.deliver(channel.slice(prefix.length), message))
        }
      }))
    const listeners = yield* makeListeners({
      // Awaited, so that a message published once `subscribe` has returned is not missed.
      // A refused subscribe is tried again, not dropped: a listener whose channel was never subscribed hears nothing.
      subscribe: (channel) =>
        Effect.flatMap(subscriber, (client) =>
          Effect.tryPromise(() => client.subscribe(prefix + channel)).pipe(
            Effect.retry(subscribeRetry),
            Effect.catchAll((error) => Effect.logWarning(`real-time: cannot subscribe to ${channel}; its pushes are lost until it resubscribes`, error)),
            Effect.asVoid
          )),
      // Not awaited: ioredis sends one connection's commands in order, so a later SUBSCRIBE of the channel comes after it.
      unsubscribe: (channel) =>
        Effect.flatMap(subscriber, (client) => Effect.sync(() => void client.unsubscribe(prefix + channel).catch(() => 0)))
    })
    return RealtimeBus.of({
      publish: (channel, message) => command(() => redis.client.publish(prefix + channel, message)).pipe(Effect.asVoid),
      subscribe: listeners.listen
    })
  })
)

export const layerMemory: Layer.Layer<RealtimeBus> = Layer.scoped(
  RealtimeBus,
  Effect.map(makeListeners({ subscribe: () => Effect.void, unsubscribe: () => Effect.void }), (listeners) =>
    RealtimeBus.of({
      publish: (channel, message) => Effect.sync(() => listeners.deliver(channel, message)),
      subscribe: listeners.listen
    }))
)
