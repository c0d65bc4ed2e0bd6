/**
 * `tsx bench/timeouts.ts`: what a per-call timeout costs on a Redis command and an internal RPC call, next to the
 * same call without it (setup and results in bench/README.md). `BENCH_SECONDS` (default 3) per run.
 */
import { HttpLayerRouter } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Rpc as RpcDefinition, RpcGroup } from "@effect/rpc"
import { freePort } from "@herald/testing/Ports"
import { startRedis } from "@herald/testing/RedisServer"
import { Effect, Layer, Redacted, Schema } from "effect"
import { createServer } from "node:http"
import * as Redis from "@herald/infra/Redis"
import * as Rpc from "@herald/infra/Rpc"
import { callsPerSecond, round } from "./support.ts"

const seconds = Number(process.env.BENCH_SECONDS ?? 3)
const lanes = 50

const measure = <E>(name: string, call: Effect.Effect<unknown, E>) =>
  Effect.gen(function*() {
    const run = (durationSeconds: number) => callsPerSecond(() => call, lanes, durationSeconds)
    yield* run(1)
    const result = yield* run(seconds)
    console.log(`${name}: ${round(result.perSecond)} calls/s, ${round(result.cpuMicrosPerCall, 1)} µs CPU per call`)
  })

class Echo extends Schema.TaggedRequest<Echo>()("Echo", {
  failure: Schema.Never,
  success: Schema.Struct({ text: Schema.String }),
  payload: { text: Schema.String }
}) {}
const EchoRpc = RpcGroup.make(RpcDefinition.fromTaggedRequest(Echo))

const given = process.env.REDIS_URL
const server = given === undefined ? await startRedis() : undefined
const url = given ?? server?.url ?? ""
const port = await freePort()
const secret = Redacted.make("bench")
try {
  console.log(`${lanes} concurrent fibers, ${seconds} s each`)
  await Effect.runPromise(
    Effect.gen(function*() {
      const redis = yield* Redis.Redis
      const exists = () => redis.client.exists("bench:revoked")
      yield* measure("Redis EXISTS, no timeout of its own (the client's 2 s)", Effect.tryPromise(exists))
      yield* measure("Redis EXISTS with Effect.timeoutFail", Effect.tryPromise(exists).pipe(Effect.timeoutFail({ duration: "1 second", onTimeout: () => "timeout" })))
      yield* measure("Redis EXISTS through Redis.command (its own timer)", Redis.command(exists))

      const routes = Rpc.host(EchoRpc, "/rpc/echo").pipe(Layer.provide(EchoRpc.toLayer({ Echo: ({ text }) => Effect.succeed({ text }) })))
      yield* HttpLayerRouter.serve(routes, { disableLogger: true }).pipe(
        Layer.provide(NodeHttpServer.layer(createServer, { port, host: "127.0.0.1" })),
        Layer.build
      )
      const client = yield* Rpc.client(EchoRpc, { url: `http://127.0.0.1:${port}/rpc/echo`, secret })
      // Twice each, alternating: the machine's other load moves single runs.
      for (let i = 0; i < 2; i++) {
        yield* measure("RPC echo, bare client call", client.Echo({ text: "hello" }))
        yield* measure("RPC echo through Rpc.call (retry, 503 mapping, Effect.timeoutFail)", Rpc.call("echo")(client.Echo({ text: "hello" })))
      }
    }).pipe(
      Effect.provide(Redis.layer({ url: Redacted.make(url), prefix: "bench:", connectRetries: 3 }, { required: true })),
      Effect.scoped
    )
  )
} finally {
  await server?.stop()
}
