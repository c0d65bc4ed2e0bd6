import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { NodeHttpServer } from "@effect/platform-node"
import type { Readiness } from "@herald/domain/Health"
import { Context, Effect, Layer } from "effect"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import * as Metrics from "./Metrics.ts"
import * as Rpc from "./Rpc.ts"
import { HttpConfig, RpcSecret } from "./InfraConfig.ts"

/** How a service reports its readiness: the same report answers `GET /ready` and its `Ready` RPC. */
export class ServiceReadiness extends Context.Tag("Herald/ServiceReadiness")<ServiceReadiness, Effect.Effect<Readiness>>() {}

/** `GET /health` (alive) and `GET /ready` (200 ready, 503 with the breakdown otherwise). */
export const healthRoutes = HttpLayerRouter.use((router) =>
  Effect.gen(function*() {
    const readiness = yield* ServiceReadiness
    yield* router.add("GET", "/health", Effect.succeed(HttpServerResponse.unsafeJson({ status: "ok" })))
    yield* router.add(
      "GET",
      "/ready",
      Effect.map(readiness, (report) => HttpServerResponse.unsafeJson(report, { status: report.status === "ready" ? 200 : 503 }))
    )
  })
)


/**
 * A Node HTTP server that holds the requests arriving before anything serves them. The server listens as soon as its
 * layer is built, while the routes are still being built (indexes, connections); Node drops a `request` event that
 * has no listener, which would leave such a request hanging forever. Held requests are handed to the first handler.
 */
export const createHoldingServer = (): Server => {
  const server = createServer()
  const held: Array<readonly [IncomingMessage, ServerResponse]> = []
  const hold = (request: IncomingMessage, response: ServerResponse) => {
    held.push([request, response])
  }
  server.on("request", hold)
  const release = (event: string | symbol) => {
    if (event !== "request") return
    server.off("newListener", release)
    server.off("request", hold)
    setImmediate(() => {
      for (const [request, response] of held.splice(0)) server.emit("request", request, response)
    })
  }
  server.on("newListener", release)
  return server
}

/** A Node HTTP server on `PORT` (default `defaultPort`) for the given router layer. */
export const listen = (defaultPort: number) =>
  Layer.unwrapEffect(
    Effect.map(HttpConfig(defaultPort), ({ host, port }) => NodeHttpServer.layer(createHoldingServer, { port, host }))
  )

/**
 * Serves `routes` on their own router. `HttpLayerRouter.serve` always provides the same (memoised) router layer,
 * so two servers in one process would share one router; a second server in the process uses this instead.
 */
export const serveWithOwnRouter = <A, E, R>(routes: Layer.Layer<A, E, R>) =>
  Effect.gen(function*() {
    const router = yield* HttpLayerRouter.HttpRouter
    return HttpServer.serve(router.asHttpEffect())
  }).pipe(
    Layer.unwrapScoped,
    Layer.provideMerge(routes),
    Layer.provide(Layer.fresh(HttpLayerRouter.layer))
  )

/**
 * An internal service's HTTP server on `PORT` (default `defaultPort`): its routes, `/health` and `/ready` from its
 * readiness, and the shared-secret guard of its RPC endpoints; and its metrics on `METRICS_PORT` (`defaultMetricsPort`).
 */
export const serveInternal = <A, E, R, E2, R2>(options: {
  readonly routes: Layer.Layer<A, E, R>
  readonly readiness: Layer.Layer<ServiceReadiness, E2, R2>
  readonly defaultPort: number
  readonly defaultMetricsPort: number
}) =>
  HttpLayerRouter.serve(
    Layer.mergeAll(
      options.routes,
      healthRoutes.pipe(Layer.provide(options.readiness)),
      Layer.unwrapEffect(Effect.map(RpcSecret, (secret) => Rpc.secretMiddleware(secret)))
    ),
    { disableLogger: true }
  ).pipe(Layer.provide(listen(options.defaultPort)), Layer.merge(Metrics.serve(options.defaultMetricsPort)))
