import { Deferred, Duration, Effect, Layer, Queue, Runtime, Stream } from "effect"
import { Broker, type Delivery, type ExchangeSpec, type OutgoingMessage, type QueueSpec, type Topology, topicMatches } from "./Broker.ts"

/**
 * The embedded broker: RabbitMQ's routing (default, direct, topic and fanout exchanges), prefetch, requeue, dead
 * lettering and per-queue message TTL, in process memory. Messages do not survive the process, as nothing of the
 * embedded default does.
 */

interface Message extends OutgoingMessage {
  readonly redelivered: boolean
}

interface Subscription {
  readonly prefetch: number
  active: boolean
  readonly inbox: Queue.Queue<Delivery>
  /** Unsettled deliveries, each with how to put it back: returned to the queue when the consumer closes. */
  readonly outstanding: Set<() => void>
}

interface QueueState {
  spec: QueueSpec
  readonly ready: Array<Message>
  readonly consumers: Array<Subscription>
  next: number
}

export const layerMemory: Layer.Layer<Broker> = Layer.scoped(
  Broker,
  Effect.gen(function*() {
    const exchanges = new Map<string, ExchangeSpec>()
    const queues = new Map<string, QueueState>()
    const runtime = yield* Effect.runtime<never>()
    const scope = yield* Effect.scope

    const route = (exchange: string, routingKey: string): ReadonlyArray<QueueState> => {
      if (exchange === "") {
        const target = queues.get(routingKey)
        return target === undefined ? [] : [target]
      }
      const type = exchanges.get(exchange)?.type
      return [...queues.values()].filter((queue) =>
        queue.spec.bindings.some((binding) =>
          binding.exchange === exchange &&
          (type === "fanout" || (type === "topic" ? topicMatches(binding.pattern, routingKey) : binding.pattern === routingKey))
        )
      )
    }

    const deadLetter = (queue: QueueState, message: Message) => {
      const target = queue.spec.deadLetter
      if (target !== undefined) enqueueAll(route(target.exchange, target.routingKey), { ...message, redelivered: false })
    }

    const enqueueAll = (targets: ReadonlyArray<QueueState>, message: Message) => {
      for (const queue of targets) {
        queue.ready.push(message)
        const ttl = queue.spec.messageTtlMs
        if (ttl !== undefined) {
          // Expiry from the head, as RabbitMQ does for a queue-wide TTL.
          Runtime.runFork(runtime)(
            Effect.sleep(Duration.millis(ttl)).pipe(
              Effect.zipRight(Effect.sync(() => {
                const index = queue.ready.indexOf(message)
                if (index >= 0) {
                  queue.ready.splice(index, 1)
                  deadLetter(queue, message)
                }
              })),
              Effect.forkIn(scope)
            )
          )
        }
        dispatch(queue)
      }
    }

    const dispatch = (queue: QueueState) => {
      while (queue.ready.length > 0) {
        const candidates = queue.consumers.filter((c) => c.active && c.outstanding.size < c.prefetch)
        if (candidates.length === 0) return
        const consumer = candidates[queue.next++ % candidates.length]
        const message = queue.ready.shift()
        if (consumer === undefined || message === undefined) return
        const putBack = () => queue.ready.unshift({ ...message, redelivered: true })
        consumer.outstanding.add(putBack)
        const settle = (after: () => void) =>
          Effect.sync(() => {
            if (!consumer.outstanding.delete(putBack)) return
            after()
            dispatch(queue)
          })
        Queue.unsafeOffer(consumer.inbox, {
          body: message.body,
          exchange: message.exchange,
          routingKey: message.routingKey,
          messageId: message.messageId,
          type: message.type,
          headers: message.headers ?? {},
          redelivered: message.redelivered,
          ack: settle(() => undefined),
          requeue: settle(putBack)
        })
      }
    }

    const declare = (topology: Topology) =>
      Effect.sync(() => {
        for (const exchange of topology.exchanges) exchanges.set(exchange.name, exchange)
        for (const spec of topology.queues) {
          const existing = queues.get(spec.name)
          if (existing === undefined) queues.set(spec.name, { spec, ready: [], consumers: [], next: 0 })
          else {
            // As on RabbitMQ, a queue declared again keeps its arguments, and bindings only add up.
            const known = new Set(existing.spec.bindings.map((binding) => `${binding.exchange} ${binding.pattern}`))
            const added = spec.bindings.filter((binding) => !known.has(`${binding.exchange} ${binding.pattern}`))
            if (added.length > 0) existing.spec = { ...existing.spec, bindings: [...existing.spec.bindings, ...added] }
          }
        }
      })

    return Broker.of({
      kind: "memory",
      declare,
      publish: (message) => Effect.sync(() => enqueueAll(route(message.exchange, message.routingKey), { ...message, redelivered: false })),
      consume: (name, options) =>
        Effect.gen(function*() {
          const queue = queues.get(name) ?? { spec: { name, bindings: [] }, ready: [], consumers: [], next: 0 }
          queues.set(name, queue)
          // Room for every unacked delivery: the prefetch is the bound, as on RabbitMQ.
          const inbox = yield* Queue.bounded<Delivery>(options.prefetch)
          const subscription: Subscription = { prefetch: options.prefetch, active: true, inbox, outstanding: new Set() }
          const cancelled = yield* Deferred.make<void>()
          queue.consumers.push(subscription)
          yield* Effect.addFinalizer(() =>
            Effect.gen(function*() {
              subscription.active = false
              queue.consumers.splice(queue.consumers.indexOf(subscription), 1)
              // Whatever this consumer had not settled goes back to the queue, as when a channel closes.
              const unsettled = [...subscription.outstanding].reverse()
              subscription.outstanding.clear()
              for (const putBack of unsettled) putBack()
              yield* Queue.shutdown(inbox)
              dispatch(queue)
            })
          )
          yield* Effect.sync(() => dispatch(queue))
          return {
            deliveries: Stream.fromQueue(inbox).pipe(Stream.interruptWhen(Deferred.await(cancelled))),
            cancel: Effect.zipRight(
              Effect.sync(() => {
                subscription.active = false
              }),
              Deferred.succeed(cancelled, undefined)
            )
          }
        }),
      probe: Effect.void
    })
  })
)
