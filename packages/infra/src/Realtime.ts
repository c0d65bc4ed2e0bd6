import type { DependencyUnavailable } from "@herald/domain/Errors"
import { Context, Effect, Layer, Queue, type Scope, Stream } from "effect"
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
 * The listeners of this process by channel. `onFirst` / `onLast` run when a channel gains its first listener or
 * loses its last, so a transport subscribes to exactly the channels someone here listens to.
 */
const makeListeners = (hooks: {
  readonly onFirst: (channel: string) => Effect.Effect<void>
  readonly onLast: (channel: string) => Effect.Effect<void>
}) => {
  const channels = new Map<string, Set<Queue.Queue<string>>>()
  const deliver = (channel: string, message: string) => {
    const queues = channels.get(channel)
    if (queues !== undefined) for (const queue of queues) Queue.unsafeOffer(queue, message)
  }
  const listen = (channel: string) =>
    Effect.gen(function*() {
      const queue = yield* Effect.acquireRelease(Queue.sliding<string>(listenerBacklog), (queue) =>
        Effect.gen(function*() {
          const queues = channels.get(channel)
          queues?.delete(queue)
          if (queues !== undefined && queues.size === 0) {
            channels.delete(channel)
            yield* hooks.onLast(channel)
          }
          yield* Queue.shutdown(queue)
        }))
      const queues = channels.get(channel)
      if (queues === undefined) {
        channels.set(channel, new Set([queue]))
        yield* hooks.onFirst(channel)
      } else {
        queues.add(queue)
      }
      return Stream.fromQueue(queue)
    })
  return { deliver, listen }
}

export const layerRedis: Layer.Layer<RealtimeBus, never, Redis> = Layer.effect(
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
    const listeners = makeListeners({
      // Awaited, so that a message published once `subscribe` has returned is not missed.
      // A refused subscribe is tried again, not dropped: a listener whose channel was never subscribed hears nothing.
      onFirst: (channel) =>
        Effect.flatMap(subscriber, (client) =>
          Effect.tryPromise(() => client.subscribe(prefix + channel)).pipe(
            Effect.retry(subscribeRetry),
            Effect.catchAll((error) => Effect.logWarning(`real-time: cannot subscribe to ${channel}; its pushes are lost until it resubscribes`, error)),
            Effect.asVoid
          )),
      onLast: (channel) =>
        Effect.flatMap(subscriber, (client) => Effect.promise(() => client.unsubscribe(prefix + channel).catch(() => 0)))
    })
    return RealtimeBus.of({
      publish: (channel, message) => command(() => redis.client.publish(prefix + channel, message)).pipe(Effect.asVoid),
      subscribe: listeners.listen
    })
  })
)

export const layerMemory: Layer.Layer<RealtimeBus> = Layer.sync(RealtimeBus, () => {
  const listeners = makeListeners({ onFirst: () => Effect.void, onLast: () => Effect.void })
  return RealtimeBus.of({
    publish: (channel, message) => Effect.sync(() => listeners.deliver(channel, message)),
    subscribe: listeners.listen
  })
})
