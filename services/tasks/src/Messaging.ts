import { eventsExchange } from "@herald/domain/Events"
import * as Outbox from "@herald/infra/Outbox"
import { DeclaredTopology } from "@herald/infra/Topology"
import { Effect } from "effect"
import { CommentRepo } from "./CommentRepo.ts"
import { ProjectRepo } from "./ProjectRepo.ts"
import { TaskRepo } from "./TaskRepo.ts"
import { WriteLock } from "./WriteLock.ts"

/** The outbox relay of tasks, projects and comments; `nudgeDocument` after a write sends its events without waiting for the poll. */
export class TasksRelay extends Effect.Service<TasksRelay>()("Herald/TasksRelay", {
  scoped: Effect.gen(function*() {
    const { exchange } = yield* DeclaredTopology
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
  dependencies: [DeclaredTopology.Default]
}) {}

export { eventsExchange }
