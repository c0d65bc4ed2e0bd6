import { UsersRpc } from "@herald/domain/UsersRpc"
import { Broker } from "@herald/infra/Broker"
import { VersionedCache } from "@herald/infra/Cache"
import { check, readiness } from "@herald/infra/Health"
import * as Jwt from "@herald/infra/Jwt"
import * as Rpc from "@herald/infra/Rpc"
import { ServiceReadiness } from "@herald/infra/Server"
import { DocumentStore } from "@herald/infra/Store"
import { Effect, Layer } from "effect"
import { Accounts } from "./Accounts.ts"
import { UsersRelay } from "./Messaging.ts"
import { RevokedFamilies } from "./RevokedFamilies.ts"
import * as Passwords from "./Passwords.ts"
import { PreferencesRepo } from "./PreferencesRepo.ts"
import { UsersHandlers } from "./Rpc.ts"

export const rpcPath = "/rpc/users"

/** Ready when its store, its cache and its broker (the owner's `security.session_revoked`) answer. */
export const Readiness = Layer.effect(
  ServiceReadiness,
  Effect.gen(function*() {
    const store = yield* DocumentStore
    const cache = yield* VersionedCache
    const broker = yield* Broker
    return readiness({
      [store.kind === "mongodb" ? "mongodb" : "store"]: check(store.probe),
      [cache.kind === "redis" ? "redis" : "cache"]: check(cache.probe),
      [broker.kind === "rabbitmq" ? "rabbitmq" : "broker"]: check(broker.probe)
    })
  })
)

/**
 * The users service as routes on an `HttpLayerRouter`: its RPC group at `/rpc/users`, and the relay of its outbox.
 * Needs a store, a cache and a broker.
 */
export const routes = Rpc.host(UsersRpc, rpcPath).pipe(
  Layer.provide(UsersHandlers),
  Layer.provide([Accounts.Default, PreferencesRepo.Default]),
  Layer.provide(Passwords.layer),
  Layer.provide(Jwt.layerSigner),
  Layer.provide(UsersRelay.Default),
  Layer.provide(RevokedFamilies.Default),
  Layer.provideMerge(Readiness)
)
