import { describe, expect, it } from "@effect/vitest"
import { Broker } from "@herald/infra/Broker"
import * as MemoryBroker from "@herald/infra/MemoryBroker"
import * as MemoryStore from "@herald/infra/MemoryStore"
import { DeclaredTopology } from "@herald/infra/Topology"
import { Chunk, Context, Effect, Layer, Stream } from "effect"
import { CountersProjector, runProjector } from "../src/CountersProjector.ts"
import { WriteLock } from "../src/WriteLock.ts"
import { ProjectRepo } from "../src/ProjectRepo.ts"

/** What arrives on a queue within `millis`. */
const arrivals = (broker: Broker["Type"], queue: string, millis: number) =>
  Effect.scoped(Effect.flatMap(broker.consume(queue, { prefetch: 10 }), (consumer) =>
    consumer.deliveries.pipe(Stream.interruptAfter(millis), Stream.runCollect, Effect.map((all) => Chunk.toReadonlyArray(all).map((d) => d.body)))))

describe("counters queue", () => {
  it.scopedLive("bound to task.* by an earlier build: other task events are acknowledged and count nothing; a broken task.created is parked", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        Layer.mergeAll(CountersProjector.Default, DeclaredTopology.Default).pipe(
          Layer.provideMerge(Layer.mergeAll(ProjectRepo.Default, WriteLock.Default)),
          Layer.provideMerge(Layer.merge(MemoryStore.layerMemory, MemoryBroker.layerMemory))
        )
      )
      const broker = Context.get(context, Broker)
      const { counters, exchange } = Context.get(context, DeclaredTopology)
      const [main] = counters.queues
      if (main === undefined) return yield* Effect.dieMessage("no counters queue")
      yield* broker.declare({ exchanges: [], queues: [{ ...main, bindings: [{ exchange, pattern: "task.*" }] }] })
      yield* Effect.forkScoped(Effect.provide(runProjector, context))
      const publish = (routingKey: string, body: string) => broker.publish({ exchange, routingKey, body, messageId: `${routingKey}-1` })
      yield* publish("task.watchers_changed", JSON.stringify({ type: "task.watchers_changed", id: "evt_1", aggregateId: "tsk_1" }))
      yield* publish("task.commented", JSON.stringify({ type: "task.commented", id: "evt_2", aggregateId: "cmt_1" }))
      yield* publish("task.created", JSON.stringify({ type: "task.created", id: "evt_3", aggregateId: "tsk_2" }))
      const parked = yield* arrivals(broker, counters.dlq, 1_000)
      expect(parked.map((body) => (JSON.parse(body) as { type: string }).type)).toEqual(["task.created"])
    }))
})
