import { eventsExchange } from "@herald/domain/Events"
import { Effect } from "effect"
import { Broker, type ExchangeSpec, type QueueSpec, type Topology } from "./Broker.ts"
import { queueArguments } from "./Amqp.ts"
import { NamePrefix, RetryDelays } from "./InfraConfig.ts"

/**
 * Herald's RabbitMQ topology, declared by every service (no publish is routed nowhere, whatever the start order) and
 * exported to `infra/rabbitmq/definitions.json`. Retry queues are named by their delay, so a new tier never clashes.
 */

export interface ConsumerQueues {
  readonly main: string
  readonly dlq: string
  /** The retry queue for the n-th retry (1-based); past the last tier the last tier is reused. */
  readonly retryQueue: (retry: number) => string
  readonly queues: ReadonlyArray<QueueSpec>
}


/**
 * Redeliveries a quorum queue allows before parking a message: a bound that survives a consumer process that dies
 * on a message (the pool's own crash count dies with it). Generous, since a lost connection also redelivers.
 */
export const defaultDeliveryLimit = 20

export const consumerQueues = (
  main: string,
  bindings: QueueSpec["bindings"],
  options: {
    readonly retryDelaysMs: ReadonlyArray<number>
    readonly singleActiveConsumer?: boolean
    readonly deliveryLimit?: number
  }
): ConsumerQueues => {
  const dlq = `${main}.dlq`
  const retryName = (delay: number) => `${main}.retry.${delay}ms`
  const delays = options.retryDelaysMs.length > 0 ? options.retryDelaysMs : [1_000]
  return {
    main,
    dlq,
    retryQueue: (retry) => retryName(delays[Math.min(Math.max(retry, 1), delays.length) - 1] ?? 1_000),
    queues: [
      {
        name: main,
        bindings,
        // A message the consumer rejects outright (it never does; a crash loop might) is parked, not dropped.
        deadLetter: { exchange: "", routingKey: dlq },
        deliveryLimit: options.deliveryLimit ?? defaultDeliveryLimit,
        ...(options.singleActiveConsumer ? { singleActiveConsumer: true } : {})
      },
      ...delays.map((delay): QueueSpec => ({
        name: retryName(delay),
        bindings: [],
        messageTtlMs: delay,
        deadLetter: { exchange: "", routingKey: main }
      })),
      { name: dlq, bindings: [] }
    ]
  }
}

export const events: ExchangeSpec = { name: eventsExchange, type: "topic" }


/** Herald's topology from configuration (retry delays, name prefix). */
export const fromConfig = Effect.map(Effect.all([RetryDelays, NamePrefix]), ([delays, prefix]) => herald(delays, prefix))

/** Herald's queues and exchange from configuration, declared on the broker (now and after every reconnection). */
export class DeclaredTopology extends Effect.Service<DeclaredTopology>()("Herald/DeclaredTopology", {
  effect: Effect.gen(function*() {
    const topology = yield* fromConfig
    yield* (yield* Broker).declare(topology.topology)
    return topology
  })
}) {}

/** The queues of Herald's consumers, for a given set of retry delays. */
export const herald = (retryDelaysMs: ReadonlyArray<number>, prefix = "") => {
  const name = (queue: string) => `${prefix}${queue}`
  const exchange = `${prefix}${events.name}`
  const options = { retryDelaysMs }
  // Every event that concerns a user becomes a notification; export jobs (`export.requested`) are work, not news.
  const notifications = consumerQueues(name("notifications.events"), [
    { exchange, pattern: "task.*" },
    { exchange, pattern: "project.*" },
    { exchange, pattern: "export.completed" },
    { exchange, pattern: "export.failed" },
    { exchange, pattern: "security.*" }
  ], {
    ...options,
    singleActiveConsumer: true
  })
  // Only the events that change a task's status or project: comments are no business of the counters.
  const counters = consumerQueues(name("tasks.counters"), ["task.created", "task.updated", "task.deleted"].map((pattern) => ({ exchange, pattern })), {
    ...options,
    singleActiveConsumer: true
  })
  const cascade = consumerQueues(name("tasks.cascade"), [{ exchange, pattern: "project.deleted" }], options)
  const exportJobs = consumerQueues(name("exports.jobs"), [{ exchange, pattern: "export.requested" }], options)
  const topology: Topology = {
    exchanges: [{ ...events, name: exchange }],
    queues: [...notifications.queues, ...counters.queues, ...cascade.queues, ...exportJobs.queues]
  }
  return { exchange, notifications, counters, cascade, exportJobs, topology }
}

/** The topology in RabbitMQ's definitions format (for `load_definitions`). */
export const toDefinitions = (topology: Topology, vhost = "/", queueType: "classic" | "quorum" = "classic") => ({
  exchanges: topology.exchanges.map((exchange) => ({
    name: exchange.name,
    vhost,
    type: exchange.type,
    durable: true,
    auto_delete: false,
    internal: false,
    arguments: {}
  })),
  queues: topology.queues.map((queue) => ({
    name: queue.name,
    vhost,
    durable: true,
    auto_delete: false,
    arguments: queueArguments(queue, queueType)
  })),
  bindings: topology.queues.flatMap((queue) =>
    queue.bindings.map((binding) => ({
      source: binding.exchange,
      vhost,
      destination: queue.name,
      destination_type: "queue",
      routing_key: binding.pattern,
      arguments: {}
    }))
  )
})
