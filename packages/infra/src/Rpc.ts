import {
  HttpClient,
  HttpClientError,
  HttpClientRequest,
  HttpLayerRouter,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import { RpcClient, RpcClientError, type RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import type * as Rpc from "@effect/rpc/Rpc"
import { type DependencyUnavailable, unavailable } from "@herald/domain/Errors"
import { Config, Duration, Effect, Layer, Option, Redacted } from "effect"
import { timingSafeEqual } from "node:crypto"
import { backoff } from "./Retry.ts"

/**
 * Internal RPC between the gateway and the services: Effect RPC over HTTP POST, NDJSON-framed (so streams work),
 * guarded by a shared secret when `RPC_SECRET` is set (always, in the all-in-one process).
 */

export const secretHeader = "x-herald-rpc-secret"

export const RpcSecret = Config.option(Config.redacted("RPC_SECRET"))

const sameSecret = (given: string, expected: string): boolean => {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

const openPaths = new Set(["/health", "/ready"])

/** Refuses requests without the shared secret (when one is configured); health probes stay open. */
export const secretMiddleware = (secret: Option.Option<Redacted.Redacted>) =>
  HttpLayerRouter.middleware((effect) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      Option.isNone(secret) || openPaths.has(request.url) ||
        sameSecret(request.headers[secretHeader] ?? "", Redacted.value(secret.value))
        ? effect
        : Effect.succeed(
          HttpServerResponse.unsafeJson({ error: { code: "forbidden", message: "internal endpoint" } }, { status: 403 })
        )), { global: true })

/**
 * NDJSON framing whose decoder keeps a UTF-8 character split across two network reads intact. The stock decoder of
 * @effect/rpc 0.76 decodes each read on its own, so such a character (a `🚀` in a task title, say) arrived as
 * replacement characters now and then, depending on where TCP happened to cut the stream.
 */
export const ndjson = RpcSerialization.RpcSerialization.of({
  ...RpcSerialization.ndjson,
  unsafeMake: () => {
    const framing = RpcSerialization.ndjson.unsafeMake()
    const decoder = new TextDecoder()
    return {
      decode: (bytes) => framing.decode(typeof bytes === "string" ? bytes : decoder.decode(bytes, { stream: true })),
      encode: (response) => framing.encode(response)
    }
  }
})

const serialization = Layer.succeed(RpcSerialization.RpcSerialization, ndjson)

/** Hosts an RPC group at `path` (HTTP protocol; the default of `layerHttpRouter` is WebSocket). */
export const host = <Rpcs extends Rpc.Any>(group: RpcGroup.RpcGroup<Rpcs>, path: HttpLayerRouter.PathInput) =>
  RpcServer.layerHttpRouter({ group, path, protocol: "http" }).pipe(Layer.provide(serialization))

/** Connection failures are retried within a short budget: such a request never reached the service. */
const transportRetry = backoff({ base: "50 millis", cap: "400 millis", retries: 4 })

const callTimeout = Duration.seconds(30)

const isTransport = (error: unknown): boolean =>
  error instanceof RpcClientError.RpcClientError &&
  error.cause instanceof HttpClientError.RequestError &&
  error.cause.reason === "Transport"

const isRpcClientError = (error: unknown): error is RpcClientError.RpcClientError =>
  error instanceof RpcClientError.RpcClientError

/**
 * A call to another service: connection failures are retried briefly, then the service is reported unavailable
 * (503), so a transport problem never surfaces as a 500.
 */
export const call = (service: string) =>
<A, E, R>(
  effect: Effect.Effect<A, E | RpcClientError.RpcClientError, R>
): Effect.Effect<A, Exclude<E, RpcClientError.RpcClientError> | DependencyUnavailable, R> =>
  effect.pipe(
    Effect.retry({ schedule: transportRetry, while: isTransport }),
    Effect.catchIf(isRpcClientError, (error) =>
      Effect.zipRight(
        Effect.logWarning(`call to the ${service} service failed: ${error.message}`),
        Effect.fail(unavailable(service, `the ${service} service is unavailable`))
      )),
    Effect.timeoutFail({ duration: callTimeout, onTimeout: () => unavailable(service, `the ${service} service timed out`) })
  )

/** A client of `group` at `url`, living in the current scope. */
export const client = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>,
  options: { readonly url: string; readonly secret: Option.Option<Redacted.Redacted> }
) =>
  Effect.gen(function*() {
    const protocol = RpcClient.layerProtocolHttp({
      url: options.url,
      transformClient: (httpClient) =>
        Option.match(options.secret, {
          onNone: () => httpClient,
          onSome: (secret) => HttpClient.mapRequest(httpClient, HttpClientRequest.setHeader(secretHeader, Redacted.value(secret)))
        })
    }).pipe(Layer.provide(serialization))
    const context = yield* Layer.build(protocol)
    return yield* RpcClient.make(group).pipe(Effect.provide(context))
  })
