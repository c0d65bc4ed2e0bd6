import { TaskEvent } from "@herald/domain/Events"
import { ProjectId, TaskId } from "@herald/domain/Ids"
import { TaskStatus } from "@herald/domain/Task"
import * as ConsumerPool from "@herald/infra/ConsumerPool"
import { DocumentStore } from "@herald/infra/Store"
import { Effect, Option, Schema } from "effect"
import { DeclaredTopology } from "@herald/infra/Topology"
import { ProjectRepo } from "./ProjectRepo.ts"
import { WriteLock } from "./WriteLock.ts"
import { PoolConfig } from "@herald/infra/InfraConfig"

/** What the counters last counted of a task: its project and status at `version` (both null once deleted). */
const CounterState = Schema.Struct({
  _id: TaskId,
  projectId: Schema.NullOr(ProjectId),
  status: Schema.NullOr(TaskStatus),
  version: Schema.Int
})

type Contribution = { readonly projectId: ProjectId | null; readonly status: TaskStatus | null }

/**
 * Keeps `taskCounts` of every project from task events by each task's old → new status, in version order and
 * idempotent across crashes (a `pending` marker beside the delta); design in services/tasks/README.md.
 */
export class CountersProjector extends Effect.Service<CountersProjector>()("Herald/CountersProjector", {
  scoped: Effect.gen(function*() {
    const store = yield* DocumentStore
    const projects = yield* ProjectRepo
    const { withLocks } = yield* WriteLock
    const states = yield* store.collection({ name: "task_counter_states", schema: CounterState, indexes: [] })

    const apply = (event: TaskEvent) =>
      Effect.gen(function*() {
        const task = event.data.task
        const version = event.aggregateVersion
        // A first event outside any project contributes nothing, as a task without a recorded state is taken to, and
        // no event is older than it: skipping the record saves a write per new task (and a FerretDB scan below).
        if (event.type === "task.created" && version === 1 && task.projectId === null) return "nothing to count" as const
        const before = yield* states.findOne({ _id: task.id })
        if (Option.isSome(before) && before.value.version >= version) return "already counted" as const
        const previous: Contribution = Option.match(before, {
          onNone: () => ({ projectId: null, status: null }),
          onSome: (state) => ({ projectId: state.projectId, status: state.status })
        })
        const next: Contribution = event.type === "task.deleted"
          ? { projectId: null, status: null }
          : { projectId: task.projectId, status: task.status }

        const deltas = new Map<ProjectId, Map<TaskStatus, number>>()
        const add = (contribution: Contribution, by: number) => {
          if (contribution.projectId === null || contribution.status === null) return
          const perStatus = deltas.get(contribution.projectId) ?? new Map<TaskStatus, number>()
          perStatus.set(contribution.status, (perStatus.get(contribution.status) ?? 0) + by)
          deltas.set(contribution.projectId, perStatus)
        }
        add(previous, -1)
        add(next, +1)
        const changed = [...deltas].filter(([, perStatus]) => [...perStatus.values()].some((n) => n !== 0))

        yield* withLocks(changed.map(([projectId]) => projectId))(
          Effect.forEach(changed, ([projectId, perStatus]) =>
            Effect.gen(function*() {
              const current = yield* projects.counters(projectId)
              if (Option.isSome(current) && current.value.pending[task.id] === version) return
              yield* projects.addCounts(projectId, Object.fromEntries(perStatus), task.id, version)
            }), { discard: true })
        )
        const recorded = { projectId: next.projectId, status: next.status, version }
        const overwrite = states.updateOne({ _id: task.id }, { $set: recorded }, { upsert: true })
        // A task's first state is inserted: on FerretDB an insert costs a sixth of an update, and most tasks are
        // counted once. Should the document exist after all, the update is the fallback.
        yield* Option.isNone(before)
          ? states.insertOne({ _id: task.id, ...recorded }).pipe(Effect.catchTag("DuplicateKey", () => overwrite))
          : overwrite
        yield* withLocks(changed.map(([projectId]) => projectId))(
          Effect.forEach(changed, ([projectId]) => projects.clearCountMark(projectId, task.id), { discard: true })
        )
        return "counted" as const
      }).pipe(
        // Two first events of a project racing to create its counters document: the loser simply goes again.
        Effect.retry({ times: 3, while: (error) => error._tag === "DuplicateKey" }),
        Effect.catchTag("DuplicateKey", (error) => Effect.die(error))
      )

    return { apply, states }
  })
}) {}

const decodeTaskEvent = Schema.decodeUnknown(Schema.parseJson(TaskEvent))
const counted = new Set(["task.created", "task.updated", "task.deleted"])
/** Another task event (a comment, a change of watchers): it counts nothing. */
const uncounted = Schema.decodeUnknownOption(
  Schema.parseJson(Schema.Struct({ type: Schema.String.pipe(Schema.filter((type) => type.startsWith("task.") && !counted.has(type))) }))
)

/** Runs the projector on the `tasks.counters` queue. */
export const runProjector = Effect.gen(function*() {
  const projector = yield* CountersProjector
  const { counters } = yield* DeclaredTopology
  const pool = yield* PoolConfig
  return yield* ConsumerPool.run({
    name: "counters",
    queues: counters,
    ...pool,
    // Per task: its events are applied in delivery order.
    keyOf: ConsumerPool.envelopeKey("aggregateId"),
    handle: (delivery) =>
      // A queue bound to `task.*` by an earlier build also receives the other task events.
      Option.isSome(uncounted(delivery.body)) ? Effect.void : decodeTaskEvent(delivery.body).pipe(
        Effect.mapError((error) => new ConsumerPool.Poison({ reason: error.message.slice(0, 500) })),
        Effect.flatMap(projector.apply),
        Effect.asVoid
      )
  })
})
