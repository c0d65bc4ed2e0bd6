import * as KeyedLock from "@herald/infra/KeyedLock"
import { Effect } from "effect"

/** The tasks service's one-writer-per-document lock, shared by its writers, the outbox relay and the projector. */
export class WriteLock extends Effect.Service<WriteLock>()("Herald/TasksWriteLock", { scoped: KeyedLock.make }) {}
