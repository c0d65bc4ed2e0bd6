import * as KeyedLock from "@herald/infra/KeyedLock"
import { Effect } from "effect"

/** The notifications service's one-writer-per-document lock (exports and their outbox relay). */
export class WriteLock extends Effect.Service<WriteLock>()("Herald/NotificationsWriteLock", { scoped: KeyedLock.make }) {}
