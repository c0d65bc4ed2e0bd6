import { HttpLayerRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import type { Readiness } from "@herald/domain/Health"
import { Config, Context, Effect, Layer } from "effect"
import { createServer } from "node:http"

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

export const HttpConfig = (defaultPort: number) =>
  Config.all({
    port: Config.port("PORT").pipe(Config.withDefault(defaultPort)),
    host: Config.string("HOST").pipe(Config.withDefault("0.0.0.0"))
  })

/** A Node HTTP server on `PORT` (default `defaultPort`) for the given router layer. */
export const listen = (defaultPort: number) =>
  Layer.unwrapEffect(
    Effect.map(HttpConfig(defaultPort), ({ host, port }) => NodeHttpServer.layer(createServer, { port, host }))
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
