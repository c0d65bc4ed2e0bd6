import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Socket from "@effect/platform/Socket"
import { RpcClient, RpcClientError, type RpcGroup, type RpcMessage, RpcSerialization, RpcServer } from "@effect/rpc"
import type * as Rpc from "@effect/rpc/Rpc"
import { type DependencyUnavailable, unavailable } from "@herald/domain/Errors"
import { Duration, Effect, Layer, Redacted } from "effect"
import { timingSafeEqual } from "node:crypto"
import { WebSocket as NodeWebSocket } from "ws"
import { backoff, forever } from "./Retry.ts"

/**
 * Internal RPC: Effect RPC over one long-lived WebSocket per service client, guarded by `RPC_SECRET` on the upgrade
 * request (why a socket: packages/infra/README.md). URLs stay `http://…/rpc/<service>`; the client speaks `ws://`.
 */

export const secretHeader = "x-herald-rpc-secret"


const sameSecret = (given: string, expected: string): boolean => {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

const openPaths = new Set(["/health", "/ready"])

/** Refuses requests without the shared secret; health probes stay open. */
export const secretMiddleware = (secret: Redacted.Redacted) =>
  HttpLayerRouter.middleware((effect) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      openPaths.has(request.url) || sameSecret(request.headers[secretHeader] ?? "", Redacted.value(secret))
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

/** Hosts an RPC group at `path`, reached by a WebSocket upgrade of `GET path`. */
export const host = <Rpcs extends Rpc.Any>(group: RpcGroup.RpcGroup<Rpcs>, path: HttpLayerRouter.PathInput) =>
  RpcServer.layerHttpRouter({ group, path, protocol: "websocket" }).pipe(Layer.provide(serialization))

/** A dropped or refused socket is reopened after 100 ms, then ever less often, but at least once a second. */
const reconnect = forever({ base: "100 millis", cap: "1 second" })

/**
 * Calls that found the socket closed are retried for about two seconds (longer than one reconnection interval), so
 * a service that is starting or restarting is waited for briefly before the caller gets a 503.
 */
const transportRetry = backoff({ base: "100 millis", cap: "500 millis", retries: 5 })

/** How long a call may take, its transport retries included, unless `call` is given another deadline. */
const defaultDeadline = Duration.seconds(30)

/** Marks a request the protocol refused to send (its socket was down): it never left this process. */
class NotSent {
  constructor(readonly error: RpcClientError.RpcClientError) {}
}

/**
 * The request never reached the service, so it is safe to retry whatever it does: the socket was down when it was
 * sent, or could not be opened while it waited. A socket that drops after opening fails the requests in flight
 * with another reason: those may have run, so they are not retried.
 */
const isNeverSent = (error: unknown): boolean =>
  error instanceof RpcClientError.RpcClientError &&
  (error.cause instanceof NotSent || (Socket.isSocketError(error.cause) && error.cause.reason === "Open"))

/** The socket protocol, with refusals to send marked `NotSent` (it reports them like in-flight failures). */
const markingProtocol = Layer.effect(
  RpcClient.Protocol,
  Effect.map(RpcClient.Protocol, (protocol) => ({
    ...protocol,
    send: (request: RpcMessage.FromClientEncoded, transferables?: ReadonlyArray<globalThis.Transferable>) =>
      protocol.send(request, transferables).pipe(
        Effect.mapError((error) => new RpcClientError.RpcClientError({ reason: "Protocol", message: error.message, cause: new NotSent(error) }))
      )
  }))
)

const isRpcClientError = (error: unknown): error is RpcClientError.RpcClientError =>
  error instanceof RpcClientError.RpcClientError

/**
 * A call to another service: connection failures are retried briefly, then the service is reported unavailable
 * (503), so a transport problem never surfaces as a 500; so is a call past its deadline (the service is then told
 * to interrupt it, as the client does for any interrupted call).
 */
export const call = (service: string, options?: { readonly deadline?: Duration.DurationInput }) =>
<A, E, R>(
  effect: Effect.Effect<A, E | RpcClientError.RpcClientError, R>
): Effect.Effect<A, Exclude<E, RpcClientError.RpcClientError> | DependencyUnavailable, R> =>
  effect.pipe(
    Effect.retry({ schedule: transportRetry, while: isNeverSent }),
    Effect.catchIf(isRpcClientError, (error) =>
      Effect.zipRight(
        Effect.logWarning(`call to the ${service} service failed: ${error.message}`),
        Effect.fail(unavailable(service, `the ${service} service is unavailable`))
      )),
    Effect.timeoutFail({
      duration: options?.deadline ?? defaultDeadline,
      onTimeout: () => unavailable(service, `the ${service} service timed out`)
    })
  )

/** Deno's WebSocket takes handshake headers in a (non-standard) options argument. */
type DenoWebSocketConstructor = new(
  url: string,
  options: { readonly protocols?: string | Array<string> | undefined; readonly headers: Record<string, string> }
) => globalThis.WebSocket

/**
 * WebSockets that send `headers` with their handshake: the browser API cannot, so Node uses the `ws` package (which
 * @effect/platform-node itself uses) and Deno its own WebSocket's `headers` option.
 */
const webSocketsWith = (headers: Record<string, string>) =>
  Layer.succeed(Socket.WebSocketConstructor, (url, protocols) => {
    if ("Deno" in globalThis) {
      const DenoWebSocket = globalThis.WebSocket as unknown as DenoWebSocketConstructor
      return new DenoWebSocket(url, { protocols, headers })
    }
    // `ws` implements the WHATWG interface Effect's Socket uses, as in @effect/platform-node's own constructor.
    return new NodeWebSocket(url, protocols, { headers }) as unknown as globalThis.WebSocket
  })

/** `http(s)://host/rpc/x` → `ws(s)://host/rpc/x`. */
const socketUrl = (url: string) => url.replace(/^http(s?):/i, "ws$1:")

/**
 * A client of `group` at `url`, living in the current scope: one WebSocket, reopened with backoff when it drops.
 * While it cannot be opened, calls fail at once (→ 503 through `call`) instead of waiting for it.
 */
export const client = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>,
  options: {
    readonly url: string
    readonly secret: Redacted.Redacted
  }
) =>
  Effect.gen(function*() {
    const headers = { [secretHeader]: Redacted.value(options.secret) }
    const protocol = markingProtocol.pipe(
      Layer.provide(RpcClient.layerProtocolSocket({ retrySchedule: reconnect })),
      Layer.provide(Socket.layerWebSocket(socketUrl(options.url))),
      Layer.provide(webSocketsWith(headers)),
      Layer.provide(serialization)
    )
    const context = yield* Layer.build(protocol)
    return yield* RpcClient.make(group).pipe(Effect.provide(context))
  })
