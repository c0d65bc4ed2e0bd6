import type { DependencyUnavailable } from "@herald/domain/Errors"
import { Context, type Effect, type Scope, type Stream } from "effect"

/**
 * A message broker with RabbitMQ's model (topic exchanges, durable queues, dead-letter exchanges, per-queue message
 * TTL, prefetch, publisher confirms), implemented on RabbitMQ and in memory.
 */

export interface ExchangeSpec {
  readonly name: string
  readonly type: "topic" | "direct" | "fanout"
}

export interface QueueSpec {
  readonly name: string
  readonly bindings: ReadonlyArray<{ readonly exchange: string; readonly pattern: string }>
  /** Where rejected or expired messages go ("" is the default exchange, which routes by queue name). */
  readonly deadLetter?: { readonly exchange: string; readonly routingKey: string }
  readonly messageTtlMs?: number
  /** One consumer at a time across all processes: per-key order and one writer per key across copies. */
  readonly singleActiveConsumer?: boolean
  /** Quorum queues only: a message delivered more often than this is dead-lettered by the broker itself. */
  readonly deliveryLimit?: number
}

export interface Topology {
  readonly exchanges: ReadonlyArray<ExchangeSpec>
  readonly queues: ReadonlyArray<QueueSpec>
}

export type Headers = Readonly<Record<string, string | number | boolean>>

export interface OutgoingMessage {
  readonly exchange: string
  readonly routingKey: string
  readonly body: string
  readonly messageId?: string
  readonly type?: string
  readonly headers?: Headers
}

export interface Delivery {
  readonly body: string
  readonly exchange: string
  readonly routingKey: string
  readonly messageId: string | undefined
  readonly type: string | undefined
  readonly headers: Headers
  readonly redelivered: boolean
  /** Settles the message on the channel that delivered it; a no-op once that channel is gone (it will be redelivered). */
  readonly ack: Effect.Effect<void>
  /** Puts the message back on its queue for another delivery. */
  readonly requeue: Effect.Effect<void>
}

export interface Consumer {
  /** Deliveries, across reconnections, until `cancel`. */
  readonly deliveries: Stream.Stream<Delivery>
  /** Stops taking new deliveries; those already delivered can still be acknowledged. */
  readonly cancel: Effect.Effect<void>
}

export class Broker extends Context.Tag("Herald/Broker")<Broker, {
  readonly kind: "rabbitmq" | "memory"
  /** Declares exchanges, queues and bindings now and again after every reconnection. Idempotent. */
  readonly declare: (topology: Topology) => Effect.Effect<void>
  /** Resolves once the broker has confirmed the message (persistent, so it survives a broker restart). */
  readonly publish: (message: OutgoingMessage) => Effect.Effect<void, DependencyUnavailable>
  /** Consumes with at most `prefetch` unacknowledged deliveries; closes when the scope closes. */
  readonly consume: (queue: string, options: { readonly prefetch: number }) => Effect.Effect<Consumer, never, Scope.Scope>
  readonly probe: Effect.Effect<void, DependencyUnavailable>
}>() {}

/** AMQP topic matching: words separated by dots, `*` is exactly one word, `#` is zero or more. */
export const topicMatches = (pattern: string, routingKey: string): boolean => {
  const match = (p: ReadonlyArray<string>, k: ReadonlyArray<string>): boolean => {
    if (p.length === 0) return k.length === 0
    const [head, ...rest] = p
    if (head === "#") return match(rest, k) || (k.length > 0 && match(p, k.slice(1)))
    if (k.length === 0) return false
    return (head === "*" || head === k[0]) && match(rest, k.slice(1))
  }
  return match(pattern.split("."), routingKey.split("."))
}
