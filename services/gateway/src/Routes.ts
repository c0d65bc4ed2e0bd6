import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { HeraldApi } from "@herald/domain/Api"
import { Effect, Layer, Scope } from "effect"
import { AuthenticationLive, VerifierLive } from "./Authentication.ts"
import { NotificationsClient, TasksClient, UsersClient } from "@herald/infra/ServiceClients"
import { hardenAndLog } from "./Edge/AccessLog.ts"
import { bodyGuard } from "./Edge/BodyGuard.ts"
import { canonicalPaths, routerConfig } from "./Edge/CanonicalPath.ts"
import { cors } from "./Edge/Cors.ts"
import { type ExtraRoute, lastResort, shapeErrors } from "./Edge/Errors.ts"
import { requestId } from "./Edge/RequestId.ts"
import { EdgeConfig } from "./GatewayConfig.ts"
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

/** The routes outside the HttpApi: its OpenAPI document and the browsable docs. */
const openapiPath = "/openapi.json"
const docsPath = "/docs"
const extraRoutes: ReadonlyArray<ExtraRoute> = [{ method: "GET", path: openapiPath }, { method: "GET", path: docsPath }]

const Api = HttpLayerRouter.addHttpApi(HeraldApi, { openapiPath }).pipe(
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
        Effect.flatMap((Scalar) => HttpLayerRouter.toHttpEffect(Scalar.layerHttpLayerRouter({ api: HeraldApi, path: docsPath }))),
        // A router of its own: with the shared memo map it would be the gateway's router, which already has /docs.
        Effect.provideServiceEffect(Layer.CurrentMemoMap, Layer.makeMemoMap),
        Scope.extend(scope)
      )
    )
    return HttpLayerRouter.add("GET", docsPath, Effect.flatten(page))
  })
)

/**
 * Around every route, outermost first: request id → security headers and log → one spelling per path → CORS → body
 * limit → rate limit → (authentication). Errors are shaped inside the rate limit, so limited ones carry its headers.
 */
const Edge = HttpLayerRouter.middleware(
  Effect.gen(function*() {
    const config = yield* EdgeConfig
    const rateLimit = yield* makeRateLimit
    const withCors = cors(config)
    const guard = bodyGuard(config)
    const shape = shapeErrors(extraRoutes)
    return (app) => lastResort(requestId(hardenAndLog(canonicalPaths(withCors(guard(rateLimit(shape(app))))))))
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
