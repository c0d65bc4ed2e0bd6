import { Cause, Chunk, Data, type Duration, Effect, Exit, Fiber, Metric, Option, Queue, Ref, Schedule, type Scope, Stream } from "effect"
import { DependencyUnavailable } from "@herald/domain/Errors"
import { Broker, type Delivery } from "./Broker.ts"
import { forever } from "./Retry.ts"
import type { ConsumerQueues } from "./Topology.ts"

/**
 * A supervised pool of worker fibers draining one queue: bounded, ordered per key, acknowledging only settled work.
 * Its design (backpressure, order, outages, retries, crashes, batches, shutdown): packages/infra/README.md.
 */

/** A message that no retry can fix (it does not decode): parked in the dead-letter queue at once. */
export class Poison extends Data.TaggedError("Poison")<{ readonly reason: string }> {}

export interface PoolOptions<E> {
  readonly name: string
  readonly queues: ConsumerQueues
  readonly prefetch: number
  readonly workers: number
  readonly mailboxSize: number
  readonly maxAttempts: number
  /** The ordering key of a message (a user id); messages without one are spread by message id. */
  readonly keyOf: (delivery: Delivery) => string | undefined
  readonly handle: (delivery: Delivery) => Effect.Effect<void, E | Poison>
  /** Handles several deliveries at once, in order; the same outcome as `handle` on each, in order. */
  readonly handleMany?: (deliveries: ReadonlyArray<Delivery>) => Effect.Effect<void, unknown>
  /** How long shutdown waits for in-flight messages before leaving them to redelivery. */
  readonly drainTimeout?: Duration.DurationInput
}

export interface PoolStats {
  readonly inFlight: number
  /** Messages waiting in worker mailboxes. */
  readonly queued: number
  readonly maxInFlight: number
  readonly maxQueued: number
  readonly handled: number
  readonly retried: number
  readonly deadLettered: number
  readonly restarts: number
}

const attemptsHeader = "x-attempts"
const reasonHeader = "x-death-reason"

/** FNV-1a: a cheap, stable spread of keys over workers. */
export const hashKey = (key: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/** While a dependency is down: the same message again, capped, never giving up while the pool lives. */
const outageRetry = forever({ base: "200 millis", cap: "5 seconds" })

const isOutage = (error: unknown): error is DependencyUnavailable => error instanceof DependencyUnavailable

/** Runs `attempt` again while it fails because a dependency is down (a warning per try, at most every 5 s). */
const throughOutages = <A, E>(name: string, attempt: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  attempt.pipe(
    Effect.tapError((error) =>
      isOutage(error) ? Effect.logWarning(`${name}: ${error.message}; holding the message until it answers`) : Effect.void
    ),
    Effect.retry({ schedule: outageRetry, while: isOutage })
  )

/** Between restarts of a dead worker: capped, and never giving up while the pool lives. */
const restartDelay = forever({ base: "100 millis", cap: "5 seconds" })

const messagesCounter = (pool: string, outcome: string) =>
  Metric.counter("herald_consumer_messages_total", { description: "Messages settled by consumer pools" }).pipe(
    Metric.tagged("pool", pool),
    Metric.tagged("outcome", outcome)
  )

const inFlightGauge = (pool: string) =>
  Metric.gauge("herald_consumer_in_flight", { description: "Deliveries taken and not yet settled" }).pipe(Metric.tagged("pool", pool))
const queuedGauge = (pool: string) =>
  Metric.gauge("herald_consumer_queued", { description: "Deliveries waiting in worker mailboxes" }).pipe(Metric.tagged("pool", pool))
const maxInFlightGauge = (pool: string) =>
  Metric.gauge("herald_consumer_in_flight_max", { description: "Most deliveries ever in flight at once" }).pipe(Metric.tagged("pool", pool))
const maxQueuedGauge = (pool: string) =>
  Metric.gauge("herald_consumer_queued_max", { description: "Most deliveries ever waiting in mailboxes at once" }).pipe(
    Metric.tagged("pool", pool)
  )

/** Runs the pool until the scope closes; returns a view of its counters (also exported as gauges). */
export const run = <E>(options: PoolOptions<E>): Effect.Effect<{ readonly stats: Effect.Effect<PoolStats> }, never, Broker | Scope.Scope> =>
  Effect.gen(function*() {
    const broker = yield* Broker
    const stats = yield* Ref.make<PoolStats>({
      inFlight: 0,
      queued: 0,
      maxInFlight: 0,
      maxQueued: 0,
      handled: 0,
      retried: 0,
      deadLettered: 0,
      restarts: 0
    })
    const crashes = new Map<string, number>()
    const metrics = {
      handled: messagesCounter(options.name, "handled"),
      retried: messagesCounter(options.name, "retried"),
      deadLettered: messagesCounter(options.name, "dead_lettered"),
      inFlight: inFlightGauge(options.name),
      queued: queuedGauge(options.name),
      maxInFlight: maxInFlightGauge(options.name),
      maxQueued: maxQueuedGauge(options.name)
    }
    /** The one place the pool's numbers change: its own view, and the metrics exported from it. */
    const track = (change: Partial<Record<"inFlight" | "queued" | "handled" | "retried" | "deadLettered" | "restarts", number>>) =>
      Ref.updateAndGet(stats, (s) => {
        const inFlight = s.inFlight + (change.inFlight ?? 0)
        const queued = change.queued ?? s.queued
        return {
          inFlight,
          queued,
          maxInFlight: Math.max(s.maxInFlight, inFlight),
          maxQueued: Math.max(s.maxQueued, queued),
          handled: s.handled + (change.handled ?? 0),
          retried: s.retried + (change.retried ?? 0),
          deadLettered: s.deadLettered + (change.deadLettered ?? 0),
          restarts: s.restarts + (change.restarts ?? 0)
        }
      }).pipe(
        Effect.tap((s) =>
          Effect.all([
            change.handled === undefined ? Effect.void : Metric.incrementBy(metrics.handled, change.handled),
            change.retried === undefined ? Effect.void : Metric.incrementBy(metrics.retried, change.retried),
            change.deadLettered === undefined ? Effect.void : Metric.incrementBy(metrics.deadLettered, change.deadLettered),
            Metric.set(metrics.inFlight, s.inFlight),
            Metric.set(metrics.queued, s.queued),
            Metric.set(metrics.maxInFlight, s.maxInFlight),
            Metric.set(metrics.maxQueued, s.maxQueued)
          ])
        ),
        Effect.asVoid
      )

    const attemptsOf = (delivery: Delivery): number => {
      const value = delivery.headers[attemptsHeader]
      return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : 0
    }

    const republish = (delivery: Delivery, queue: string, headers: Record<string, string | number | boolean>) =>
      broker.publish({
        exchange: "",
        routingKey: queue,
        body: delivery.body,
        ...(delivery.messageId !== undefined ? { messageId: delivery.messageId } : {}),
        ...(delivery.type !== undefined ? { type: delivery.type } : {}),
        headers: {
          ...delivery.headers,
          "x-original-routing-key": delivery.headers["x-original-routing-key"] ?? delivery.routingKey,
          ...headers
        }
      })

    const deadLetter = (delivery: Delivery, reason: string, attempts: number) =>
      republish(delivery, options.queues.dlq, { [attemptsHeader]: attempts, [reasonHeader]: reason.slice(0, 1_000) }).pipe(
        Effect.zipRight(delivery.ack),
        Effect.zipRight(track({ deadLettered: 1 })),
        Effect.zipRight(Effect.logWarning(`${options.name}: parked a message in ${options.queues.dlq}: ${reason}`))
      )

    const retry = (delivery: Delivery, reason: string) => {
      const attempts = attemptsOf(delivery) + 1
      return attempts >= options.maxAttempts
        ? deadLetter(delivery, `failed ${attempts} times; last error: ${reason}`, attempts)
        : republish(delivery, options.queues.retryQueue(attempts), { [attemptsHeader]: attempts }).pipe(
          Effect.zipRight(delivery.ack),
          Effect.zipRight(track({ retried: 1 }))
        )
    }

    /** Handled: acknowledged and counted (`inFlight` is the caller's to release). */
    const acknowledge = (deliveries: ReadonlyArray<Delivery>) =>
      Effect.forEach(deliveries, (delivery) => delivery.ack, { discard: true }).pipe(
        Effect.zipRight(track({ handled: deliveries.length }))
      )

    /** Settles one delivery; returns normally unless the handler died (then the worker dies too). */
    const process = (delivery: Delivery) =>
      Effect.gen(function*() {
        // Every Herald message has an id; one without is bounded by the broker's delivery limit alone.
        const id = delivery.messageId
        const crashed = id === undefined ? 0 : crashes.get(id) ?? 0
        if (id !== undefined && crashed >= options.maxAttempts) {
          crashes.delete(id)
          return yield* deadLetter(delivery, `crashed its worker ${crashed} times`, attemptsOf(delivery))
        }
        const exit = yield* Effect.exit(throughOutages(options.name, options.handle(delivery)))
        if (Exit.isSuccess(exit)) {
          if (id !== undefined) crashes.delete(id)
          return yield* acknowledge([delivery])
        }
        const failure = Cause.failureOption(exit.cause)
        if (Option.isSome(failure)) {
          const error = failure.value
          const settle = error instanceof Poison
            ? deadLetter(delivery, `poison: ${error.reason}`, attemptsOf(delivery))
            : retry(delivery, String(error instanceof Error ? error.message : JSON.stringify(error)))
          // If the broker cannot take the retry or the dead letter, the message stays on its queue.
          return yield* settle.pipe(Effect.catchAll(() => delivery.requeue))
        }
        if (id !== undefined) crashes.set(id, crashed + 1)
        if (crashes.size > 10_000) crashes.delete(crashes.keys().next().value ?? "")
        yield* delivery.requeue
        return yield* Effect.failCause(exit.cause)
      }).pipe(Effect.ensuring(track({ inFlight: -1 })))

    const mailboxes = yield* Effect.forEach(Array.from({ length: options.workers }), () =>
      Effect.acquireRelease(Queue.bounded<Delivery>(options.mailboxSize), Queue.shutdown))

    /** Several deliveries through `handleMany`; on any failure, each on its own through `process`. */
    const processMany = (deliveries: ReadonlyArray<Delivery>, handleMany: (ds: ReadonlyArray<Delivery>) => Effect.Effect<void, unknown>) =>
      Effect.gen(function*() {
        // A message that has crashed a worker before is not risked in a batch again.
        const suspect = deliveries.some((delivery) => delivery.messageId !== undefined && crashes.has(delivery.messageId))
        const exit = suspect ? undefined : yield* Effect.exit(throughOutages(options.name, handleMany(deliveries)))
        if (exit !== undefined && Exit.isSuccess(exit)) {
          return yield* acknowledge(deliveries).pipe(Effect.ensuring(track({ inFlight: -deliveries.length })))
        }
        if (exit !== undefined && Cause.isInterruptedOnly(exit.cause)) {
          return yield* track({ inFlight: -deliveries.length }).pipe(Effect.zipRight(Effect.failCause(exit.cause)))
        }
        for (const [index, delivery] of deliveries.entries()) {
          // A worker killed midway: the deliveries not reached yet go back to the broker with the one that killed it.
          yield* process(delivery).pipe(
            Effect.onError(() =>
              Effect.forEach(deliveries.slice(index + 1), (rest) => rest.requeue.pipe(Effect.zipRight(track({ inFlight: -1 }))), {
                discard: true
              })
            )
          )
        }
      })

    const handleMany = options.handleMany
    const worker = (mailbox: Queue.Queue<Delivery>) =>
      Queue.take(mailbox).pipe(
        Effect.flatMap((first) =>
          handleMany === undefined
            ? process(first)
            : Effect.flatMap(Queue.takeAll(mailbox), (rest) =>
              Chunk.isEmpty(rest) ? process(first) : processMany([first, ...rest], handleMany))
        ),
        Effect.forever
      )
    /** Messages waiting in mailboxes right now (the bounded in-process queue). */
    // `Queue.size` counts waiting takers as negative: an idle worker's empty mailbox is -1.
    const queuedNow = Effect.map(Effect.forEach(mailboxes, Queue.size), (sizes) => sizes.reduce((a, b) => a + Math.max(0, b), 0))

    // The supervisor: a worker that dies is logged, counted and started again with a fresh fiber.
    const supervise = (mailbox: Queue.Queue<Delivery>, index: number) =>
      worker(mailbox).pipe(
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.failCause(cause)
            : Effect.logError(`${options.name}: worker ${index} died; restarting`, cause).pipe(
              Effect.zipRight(track({ restarts: 1 }))
            )
        ),
        Effect.repeat(restartDelay),
        Effect.forkScoped
      )

    const consumer = yield* broker.consume(options.queues.main, { prefetch: options.prefetch })
    const workers = yield* Effect.forEach(mailboxes, supervise)
    const dispatcher = yield* consumer.deliveries.pipe(
      Stream.runForEach((delivery) => {
        const key = options.keyOf(delivery) ?? delivery.messageId ?? ""
        const mailbox = mailboxes[hashKey(key) % mailboxes.length]
        return mailbox === undefined
          ? delivery.requeue
          : track({ inFlight: 1 }).pipe(
            Effect.zipRight(Queue.offer(mailbox, delivery)),
            Effect.zipRight(Effect.flatMap(queuedNow, (queued) => track({ queued }))),
            // Shut down while waiting for room: the message goes back to the broker.
            Effect.onInterrupt(() => delivery.requeue.pipe(Effect.zipRight(track({ inFlight: -1 }))))
          )
      }),
      Effect.forkScoped
    )

    // Registered last, so it runs first on close: stop taking, drain, and only then let the rest shut down.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* consumer.cancel
        yield* Fiber.interrupt(dispatcher)
        yield* Ref.get(stats).pipe(
          Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (s) => s.inFlight <= 0 }),
          Effect.timeout(options.drainTimeout ?? "15 seconds"),
          Effect.ignore
        )
        yield* Fiber.interruptAll(workers)
      })
    )

    return { stats: Effect.zipWith(Ref.get(stats), queuedNow, (s, queued) => ({ ...s, queued })) }
  })


/** The `aggregateId` / `userId` of an event body, without decoding all of it: keys for ordering. */
export const envelopeKey = (field: "aggregateId" | "userId") => (delivery: Delivery): string | undefined => {
  const match = new RegExp(`"${field}":"([^"]+)"`).exec(delivery.body)
  return match?.[1]
}
