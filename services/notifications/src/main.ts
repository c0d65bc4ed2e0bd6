import { HttpLayerRouter } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import * as Logging from "@herald/infra/Logging"
import * as Main from "@herald/infra/Main"
import * as Platform from "@herald/infra/Platform"
import * as Rpc from "@herald/infra/Rpc"
import { healthRoutes, listen } from "@herald/infra/Server"
import { ServiceUrls } from "@herald/infra/ServiceClients"
import { Effect, Layer } from "effect"
import * as Notifications from "./Service.ts"

const Secret = Layer.unwrapEffect(Effect.map(Rpc.RpcSecret, Rpc.secretMiddleware))

HttpLayerRouter.serve(
  Layer.mergeAll(Notifications.routes, healthRoutes.pipe(Layer.provide(Notifications.Readiness)), Secret),
  { disableLogger: true }
).pipe(
  Layer.provide(listen(8083)),
  Layer.provide([Platform.store, Platform.broker, Platform.redisCapabilities, ServiceUrls.fromConfig, NodeHttpClient.layerUndici]),
  Layer.provide(Logging.layer),
  (app) => Main.run("notifications", app)
)
