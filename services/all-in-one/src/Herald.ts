import * as HttpServer from "@effect/platform/HttpServer"
import { NodeHttpServer } from "@effect/platform-node"
import * as Gateway from "@herald/gateway/Routes"
import * as Metrics from "@herald/infra/Metrics"
import * as Notifications from "@herald/notifications/Service"
import * as Rpc from "@herald/infra/Rpc"
import { createHoldingServer, listen, serveWithOwnRouter } from "@herald/infra/Server"
import { ServiceUrls } from "@herald/infra/ServiceClients"
import * as Tasks from "@herald/tasks/Service"
import * as Users from "@herald/users/Service"
import { Effect, Layer, Redacted } from "effect"
import { randomBytes } from "node:crypto"

/**
 * The whole platform in one process: the users, tasks and notifications services on an internal server (loopback,
 * a port of the kernel's choosing, a fresh shared secret), and the gateway on `PORT` calling them through the same
 * RPC clients as in a distributed deployment. Only the transport's distance differs.
 */
export const Internal = Layer.unwrapEffect(
  Effect.sync(() => {
    const secret = Redacted.make(randomBytes(32).toString("base64url"))
    const Urls = Layer.effect(
      ServiceUrls,
      Effect.map(HttpServer.HttpServer, (server) => {
        const port = server.address._tag === "TcpAddress" ? server.address.port : 0
        const base = `http://127.0.0.1:${port}`
        return {
          users: `${base}${Users.rpcPath}`,
          tasks: `${base}${Tasks.rpcPath}`,
          notifications: `${base}${Notifications.rpcPath}`,
          secret
        }
      })
    )
    const routes = Layer.mergeAll(Users.routes, Tasks.routes, Notifications.routes, Rpc.secretMiddleware(secret))
    const serving = serveWithOwnRouter(routes)
    return Layer.merge(serving.pipe(Layer.provide(Urls)), Urls).pipe(
      Layer.provide(NodeHttpServer.layer(createHoldingServer, { port: 0, host: "127.0.0.1" }))
    )
  })
)

/** Everything of Herald, with one metrics server for all four services; needs the platform layers (store, broker, Redis capabilities). */
export const Herald = Gateway.serve().pipe(
  Layer.provide(listen(8080)),
  Layer.provide(Internal),
  Layer.merge(Metrics.serve(9180))
)
