import { UsersRpc } from "@herald/domain/UsersRpc"
import { VersionedCache } from "@herald/infra/Cache"
import { check, readiness } from "@herald/infra/Health"
import * as Jwt from "@herald/infra/Jwt"
import * as Rpc from "@herald/infra/Rpc"
import { ServiceReadiness } from "@herald/infra/Server"
import { DocumentStore } from "@herald/infra/Store"
import { Effect, Layer } from "effect"
import { Accounts } from "./Accounts.ts"
import * as Passwords from "./Passwords.ts"
import { PreferencesRepo } from "./PreferencesRepo.ts"
import { UsersHandlers } from "./Rpc.ts"

export const rpcPath = "/rpc/users"

/** Ready when its store and its cache answer. */
export const Readiness = Layer.effect(
  ServiceReadiness,
  Effect.gen(function*() {
    const store = yield* DocumentStore
    const cache = yield* VersionedCache
    return readiness({ [store.kind === "mongodb" ? "mongodb" : "store"]: check(store.probe), [cache.kind === "redis" ? "redis" : "cache"]: check(cache.probe) })
  })
)

/** The users service as routes on an `HttpLayerRouter`: its RPC group at `/rpc/users`. Needs a store and a cache. */
export const routes = Rpc.host(UsersRpc, rpcPath).pipe(
  Layer.provide(UsersHandlers),
  Layer.provide([Accounts.Default, PreferencesRepo.Default]),
  Layer.provide(Passwords.layer),
  Layer.provide(Jwt.layerSigner),
  Layer.provideMerge(Readiness)
)
