import { HttpLayerRouter } from "@effect/platform"
import * as Logging from "@herald/infra/Logging"
import * as Main from "@herald/infra/Main"
import * as Platform from "@herald/infra/Platform"
import * as Rpc from "@herald/infra/Rpc"
import { healthRoutes, listen } from "@herald/infra/Server"
import { Effect, Layer } from "effect"
import * as Tasks from "./Service.ts"

const Secret = Layer.unwrapEffect(Effect.map(Rpc.RpcSecret, Rpc.secretMiddleware))

HttpLayerRouter.serve(Layer.mergeAll(Tasks.routes, healthRoutes.pipe(Layer.provide(Tasks.Readiness)), Secret), {
  disableLogger: true
}).pipe(
  Layer.provide(listen(8082)),
  Layer.provide([Platform.store, Platform.broker]),
  Layer.provide(Logging.layer),
  (app) => Main.run("tasks", app)
)
