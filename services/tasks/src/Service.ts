import { TasksRpc } from "@herald/domain/TasksRpc"
import { Broker } from "@herald/infra/Broker"
import { check, readiness } from "@herald/infra/Health"
import * as Rpc from "@herald/infra/Rpc"
import { ServiceReadiness } from "@herald/infra/Server"
import { DocumentStore } from "@herald/infra/Store"
import { Effect, Layer } from "effect"
import { CountersProjector, runProjector } from "./CountersProjector.ts"
import { DeclaredTopology } from "@herald/infra/Topology"
import { TasksRelay } from "./Messaging.ts"
import { CommentRepo } from "./CommentRepo.ts"
import { People } from "./People.ts"
import { runCascade } from "./ProjectCascade.ts"
import { ProjectRepo } from "./ProjectRepo.ts"
import { TaskRepo } from "./TaskRepo.ts"
import { Tasks } from "./Tasks.ts"
import { TasksHandlers } from "./Rpc.ts"
import { WriteLock } from "./WriteLock.ts"

export const rpcPath = "/rpc/tasks"

/** Ready when its store and its broker answer. */
export const Readiness = Layer.effect(
  ServiceReadiness,
  Effect.gen(function*() {
    const store = yield* DocumentStore
    const broker = yield* Broker
    return readiness({
      [store.kind === "mongodb" ? "mongodb" : "store"]: check(store.probe),
      [broker.kind === "rabbitmq" ? "rabbitmq" : "broker"]: check(broker.probe)
    })
  })
)

/**
 * The repositories, the write lock they share with the relay and the projector, the relay, and `Tasks`. Needs
 * `ServiceUrls`: names and emails of members come from the users service.
 */
export const Core = Tasks.Default.pipe(
  Layer.provideMerge(Layer.merge(TasksRelay.Default, People.Default)),
  Layer.provideMerge(Layer.mergeAll(TaskRepo.Default, ProjectRepo.Default, CommentRepo.Default, WriteLock.Default, DeclaredTopology.Default))
)

/** The consumers of the tasks service: the counters projector and the project cascade. */
export const Consumers = Layer.scopedDiscard(Effect.all([runProjector, runCascade])).pipe(
  Layer.provide(CountersProjector.Default)
)

/** The tasks service as routes (its RPC group at `/rpc/tasks`) plus its consumers. Needs a store and a broker. */
export const routes = Rpc.host(TasksRpc, rpcPath).pipe(
  Layer.provide(TasksHandlers),
  Layer.provideMerge(Consumers),
  Layer.provide(Core),
  Layer.provideMerge(Readiness)
)
