import { NotificationsRpc } from "@herald/domain/NotificationsRpc"
import { Broker } from "@herald/infra/Broker"
import { VersionedCache } from "@herald/infra/Cache"
import { check, readiness } from "@herald/infra/Health"
import * as Rpc from "@herald/infra/Rpc"
import { ServiceReadiness } from "@herald/infra/Server"
import { TasksClient, UsersClient } from "@herald/infra/ServiceClients"
import { DocumentStore } from "@herald/infra/Store"
import { Effect, Layer } from "effect"
import { runConsumer } from "./Consumer.ts"
import { Digests, runDigests } from "./Digests.ts"
import { DueReminders } from "./DueReminders.ts"
import { runDueScheduler } from "./DueScheduler.ts"
import { ExportRepo } from "./ExportRepo.ts"
import { Exports } from "./Exports.ts"
import { runExportWorker } from "./ExportWorker.ts"
import { DeclaredTopology } from "@herald/infra/Topology"
import { ExportsRelay } from "./Messaging.ts"
import { Inbox } from "./Inbox.ts"
import { NotificationRepo } from "./NotificationRepo.ts"
import { Notifier } from "./Notifier.ts"
import { NotificationsHandlers } from "./Rpc.ts"
import { WriteLock } from "./WriteLock.ts"

export const rpcPath = "/rpc/notifications"

/** Ready when its store, its broker and Redis (real-time fan-out) answer. */
export const Readiness = Layer.effect(
  ServiceReadiness,
  Effect.gen(function*() {
    const store = yield* DocumentStore
    const broker = yield* Broker
    const cache = yield* VersionedCache
    return readiness({
      [store.kind === "mongodb" ? "mongodb" : "store"]: check(store.probe),
      [broker.kind === "rabbitmq" ? "rabbitmq" : "broker"]: check(broker.probe),
      [cache.kind === "redis" ? "redis" : "cache"]: check(cache.probe)
    })
  })
)

export const Core = Layer.merge(Exports.Default, Inbox.Default).pipe(
  Layer.provideMerge(ExportsRelay.Default),
  Layer.provideMerge(Layer.mergeAll(NotificationRepo.Default, ExportRepo.Default, WriteLock.Default, DeclaredTopology.Default))
)

/** The consumers: notifications from events, the export workers, the due-date reminders' scheduler and the email digest job. */
export const Consumers = Layer.scopedDiscard(Effect.all([runConsumer, runExportWorker, runDueScheduler, runDigests])).pipe(
  Layer.provide(Layer.merge(DueReminders.Default.pipe(Layer.provideMerge(Notifier.Default)), Digests.Default))
)

/**
 * The notifications service as routes (its RPC group at `/rpc/notifications`) plus its consumers. Needs a store, a
 * broker, the Redis capabilities, and `ServiceUrls` (its export workers read tasks from the tasks service).
 */
export const routes = Rpc.host(NotificationsRpc, rpcPath).pipe(
  Layer.provide(NotificationsHandlers),
  Layer.provideMerge(Consumers),
  Layer.provide(Core),
  Layer.provide([TasksClient.Default, UsersClient.Default]),
  Layer.provideMerge(Readiness)
)
