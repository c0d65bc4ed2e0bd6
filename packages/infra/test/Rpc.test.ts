import { HttpLayerRouter } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Rpc as RpcDefinition, RpcGroup, RpcSerialization } from "@effect/rpc"
import { describe, expect, it } from "@effect/vitest"
import { freePort } from "@herald/testing/Ports"
import { Effect, Exit, Layer, Redacted, Schema, Scope } from "effect"
import fc from "fast-check"
import { createServer } from "node:http"
import * as Rpc from "../src/Rpc.ts"

const decodeInPieces = (serialization: RpcSerialization.RpcSerialization["Type"], text: string, cuts: ReadonlyArray<number>) => {
  const parser = serialization.unsafeMake()
  const bytes = new TextEncoder().encode(text)
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b)
  const pieces = [0, ...points].map((start, i) => bytes.slice(start, points[i] ?? bytes.length))
  return pieces.flatMap((piece) => parser.decode(piece))
}

describe("RPC framing (NDJSON)", () => {
  it("messages cut anywhere by the network, even inside a multi-byte character, decode to what was sent", () => {
    const message = fc.record({ id: fc.string(), title: fc.string({ unit: "grapheme" }) })
    fc.assert(fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 8 }), (messages, cuts) => {
      const text = messages.map((m) => `${JSON.stringify(m)}\n`).join("")
      expect(decodeInPieces(Rpc.ndjson, text, cuts)).toEqual(messages)
    }))
  })

  it("the stock decoder of @effect/rpc mangles a character cut in two (why Herald has its own)", () => {
    const text = `${JSON.stringify({ title: "🚀" })}\n`
    const cut = new TextEncoder().encode(text).indexOf(0xf0) + 2
    expect(decodeInPieces(Rpc.ndjson, text, [cut])).toEqual([{ title: "🚀" }])
    expect(decodeInPieces(RpcSerialization.ndjson, text, [cut])).not.toEqual([{ title: "🚀" }])
  })
})

class Echo extends Schema.TaggedRequest<Echo>()("Echo", {
  failure: Schema.Never,
  success: Schema.Struct({ text: Schema.String }),
  payload: { text: Schema.String, delayMs: Schema.Number }
}) {}
const EchoRpc = RpcGroup.make(RpcDefinition.fromTaggedRequest(Echo))

/** A service hosting `EchoRpc` behind the shared secret on `port`, until `scope` closes. */
const serveEcho = (port: number, secret: Redacted.Redacted, scope: Scope.Scope, interrupted: Array<string> = []) => {
  const handlers = EchoRpc.toLayer({
    Echo: ({ delayMs, text }) =>
      Effect.as(Effect.sleep(delayMs), { text }).pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted.push(text))))
  })
  const routes = Layer.mergeAll(Rpc.host(EchoRpc, "/rpc/echo").pipe(Layer.provide(handlers)), Rpc.secretMiddleware(secret))
  return HttpLayerRouter.serve(routes, { disableLogger: true }).pipe(
    Layer.provide(NodeHttpServer.layer(createServer, { port, host: "127.0.0.1" })),
    Layer.buildWithScope(scope)
  )
}

const echoClient = (port: number, secret: Redacted.Redacted) =>
  Rpc.client(EchoRpc, { url: `http://127.0.0.1:${port}/rpc/echo`, secret })

describe("RPC transport (one WebSocket per client)", () => {
  it.scopedLive("concurrent calls share the socket and each gets its own answer; a wrong secret is refused", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const secret = Redacted.make("the shared secret")
      yield* serveEcho(port, secret, yield* Effect.scope)
      const client = yield* echoClient(port, secret)
      // Later calls answer first: replies are matched to requests by id, not by order.
      const replies = yield* Effect.forEach(
        Array.from({ length: 50 }, (_, i) => i),
        (i) => Rpc.call("echo")(client.Echo({ text: `call ${i}`, delayMs: 50 - i })),
        { concurrency: "unbounded" }
      )
      expect(replies.map((reply) => reply.text)).toEqual(Array.from({ length: 50 }, (_, i) => `call ${i}`))
      const intruder = yield* echoClient(port, Redacted.make("a guess"))
      const refused = yield* Effect.flip(Rpc.call("echo")(intruder.Echo({ text: "let me in", delayMs: 0 })))
      expect(refused).toMatchObject({ _tag: "DependencyUnavailable", details: { dependency: "echo" } })
    }))

  it.scopedLive("a service that is down answers 503 within seconds, and is used as soon as it is up, with the same client", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const secret = Redacted.make("the shared secret")
      const client = yield* echoClient(port, secret)
      const call = Rpc.call("echo")(client.Echo({ text: "hello", delayMs: 0 }))
      const started = Date.now()
      const down = yield* Effect.flip(call)
      expect(down._tag).toBe("DependencyUnavailable")
      expect(Date.now() - started).toBeLessThan(5_000)

      const service = yield* Scope.make()
      yield* serveEcho(port, secret, service)
      const upAt = Date.now()
      expect((yield* call).text).toBe("hello")
      // Reconnection is attempted at least once a second; the call's own retries cover that interval.
      expect(Date.now() - upAt).toBeLessThan(3_000)

      // Stopped and started again: the client reconnects by itself.
      yield* Scope.close(service, Exit.void)
      expect((yield* Effect.flip(call))._tag).toBe("DependencyUnavailable")
      yield* serveEcho(port, secret, yield* Effect.scope)
      expect((yield* call).text).toBe("hello")
    }), { timeout: 30_000 })

  it.scopedLive("a call not answered within its deadline ends in a 503, the service is told to stop it, and others go on", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const secret = Redacted.make("the shared secret")
      const interrupted: Array<string> = []
      yield* serveEcho(port, secret, yield* Effect.scope, interrupted)
      const client = yield* echoClient(port, secret)
      const call = Rpc.call("echo", { deadline: "1 second" })
      const started = Date.now()
      const [slow, quick] = yield* Effect.all([
        Effect.flip(call(client.Echo({ text: "slow", delayMs: 10_000 }))),
        call(client.Echo({ text: "quick", delayMs: 100 }))
      ], { concurrency: "unbounded" })
      expect(slow).toMatchObject({ _tag: "DependencyUnavailable", message: "the echo service timed out" })
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000)
      expect(Date.now() - started).toBeLessThan(2_000)
      expect(quick.text).toBe("quick")
      yield* Effect.sleep("200 millis")
      expect(interrupted).toEqual(["slow"])
      expect((yield* call(client.Echo({ text: "after", delayMs: 0 }))).text).toBe("after")
    }))
})
