import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { HeraldApi } from "@herald/domain/Api"
import { Effect, Layer, Scope } from "effect"
import { AuthenticationLive, VerifierLive } from "./Authentication.ts"
import { NotificationsClient, TasksClient, UsersClient } from "@herald/infra/ServiceClients"
import { bodyGuard, canonicalPaths, cors, EdgeConfig, hardenAndLog, requestId, routerConfig, shapeErrors } from "./Edge.ts"
import { ExportsLive } from "./Http/Exports.ts"
import { IdempotentCreates } from "./IdempotentCreates.ts"
import { NotificationsLive } from "./Http/Notifications.ts"
import { ProjectsLive } from "./Http/Projects.ts"
import { StreamLive } from "./Http/Stream.ts"
import { SystemLive } from "./Http/System.ts"
import { CommentsLive, TasksLive } from "./Http/Tasks.ts"
import { AuthLive, UsersLive } from "./Http/Users.ts"
import { makeRateLimit } from "./RateLimit.ts"
import { StreamHub } from "./StreamHub.ts"

const Api = HttpLayerRouter.addHttpApi(HeraldApi, { openapiPath: "/openapi.json" }).pipe(
  Layer.provide([SystemLive, AuthLive, UsersLive, ProjectsLive, TasksLive, CommentsLive, NotificationsLive, StreamLive.pipe(Layer.provide(StreamHub.Default)), ExportsLive]),
  Layer.provide([AuthenticationLive, IdempotentCreates.layer])
)

/**
 * The browsable docs page. Its UI (Scalar: a 3.3 MB script inlined into the page) is loaded by the first request
 * for it, not at start: it was the largest part of the gateway's bundle and of its idle memory.
 */
const Docs = Layer.unwrapScoped(
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const page = yield* Effect.cached(
      Effect.promise(() => import("@effect/platform/HttpApiScalar")).pipe(
        Effect.flatMap((Scalar) => HttpLayerRouter.toHttpEffect(Scalar.layerHttpLayerRouter({ api: HeraldApi, path: "/docs" }))),
        // A router of its own: with the shared memo map it would be the gateway's router, which already has /docs.
        Effect.provideServiceEffect(Layer.CurrentMemoMap, Layer.makeMemoMap),
        Scope.extend(scope)
      )
    )
    return HttpLayerRouter.add("GET", "/docs", Effect.flatten(page))
  })
)

/**
 * Around every route, outermost first: request id → security headers and access log → one spelling per path →
 * CORS → body limit → rate limit → (authentication, per protected route). Failures are shaped into API.md's error body at the inside
 * (so limited responses carry their headers) and once more at the outside (for the edge's own defects).
 */
const Edge = HttpLayerRouter.middleware(
  Effect.gen(function*() {
    const config = yield* EdgeConfig
    const rateLimit = yield* makeRateLimit
    const withCors = cors(config)
    const guard = bodyGuard(config)
    return (app) => requestId(hardenAndLog(shapeErrors(canonicalPaths(withCors(guard(rateLimit(shapeErrors(app))))))))
  }),
  { global: true }
)

const Clients = Layer.provideMerge(VerifierLive, Layer.mergeAll(UsersClient.Default, TasksClient.Default, NotificationsClient.Default))

/** The gateway's routes. Needs `ServiceUrls`, the Redis capabilities (limiter, cache, real-time bus). */
export const routes = Layer.mergeAll(Api, Docs, Edge).pipe(
  Layer.provide(Clients)
)

/** The gateway's HTTP server: its routes on a router that matches each path in one spelling only. */
export const serve = (options: { readonly disableListenLog?: boolean } = {}) =>
  HttpLayerRouter.serve(routes, { disableLogger: true, routerConfig, ...options })
