import { eventsExchange } from "@herald/domain/Events"
import { Broker } from "@herald/infra/Broker"
import * as Outbox from "@herald/infra/Outbox"
import * as Topology from "@herald/infra/Topology"
import { Effect } from "effect"
import { CommentRepo } from "./CommentRepo.ts"
import { ProjectRepo } from "./ProjectRepo.ts"
import { TaskRepo } from "./TaskRepo.ts"
import { WriteLock } from "./WriteLock.ts"

/** Herald's queues and exchange, declared on the broker (now and after every reconnection). */
export class TasksTopology extends Effect.Service<TasksTopology>()("Herald/TasksTopology", {
  effect: Effect.gen(function*() {
    const topology = yield* Topology.fromConfig
    yield* (yield* Broker).declare(topology.topology)
    return topology
  })
}) {}

/** The outbox relay of tasks, projects and comments; `nudgeDocument` after a write sends its events without waiting for the poll. */
export class TasksRelay extends Effect.Service<TasksRelay>()("Herald/TasksRelay", {
  scoped: Effect.gen(function*() {
    const { exchange } = yield* TasksTopology
    const tasks = yield* TaskRepo
    const projects = yield* ProjectRepo
    const comments = yield* CommentRepo
    const { withLock, withLocks } = yield* WriteLock
    return yield* Outbox.run({
      name: "tasks",
      exchange,
      sources: [tasks.outbox, projects.outbox, comments.outbox],
      lock: { withLock, withLocks }
    })
  }),
  dependencies: [TasksTopology.Default]
}) {}

export { eventsExchange }
