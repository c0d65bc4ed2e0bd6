import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer, Metric, MetricState, Option } from "effect"
import { createServer } from "node:http"
import { MetricsConfig } from "./InfraConfig.ts"

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

const labels = (tags: ReadonlyArray<{ readonly key: string; readonly value: string }>, extra: Record<string, string> = {}) => {
  const all = [...tags.map((tag) => [tag.key, tag.value] as const), ...Object.entries(extra)]
  return all.length === 0 ? "" : `{${all.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`
}

const startTimeSeconds = Math.round(Date.now() / 1000 - process.uptime())

/** Every metric of this process in the Prometheus text exposition format. */
export const prometheus: Effect.Effect<string> = Effect.map(Metric.snapshot, (pairs) => {
  const lines: Array<string> = []
  const typed = new Set<string>()
  const declare = (name: string, type: string, description: Option.Option<string>) => {
    if (typed.has(name)) return
    typed.add(name)
    if (Option.isSome(description)) lines.push(`# HELP ${name} ${description.value}`)
    lines.push(`# TYPE ${name} ${type}`)
  }
  for (const pair of pairs) {
    const name = pair.metricKey.name.replace(/[^a-zA-Z0-9_:]/g, "_")
    const tags = pair.metricKey.tags
    const state = pair.metricState
    if (MetricState.isCounterState(state)) {
      declare(name, "counter", pair.metricKey.description)
      lines.push(`${name}${labels(tags)} ${Number(state.count)}`)
    } else if (MetricState.isGaugeState(state)) {
      declare(name, "gauge", pair.metricKey.description)
      lines.push(`${name}${labels(tags)} ${Number(state.value)}`)
    } else if (MetricState.isHistogramState(state)) {
      declare(name, "histogram", pair.metricKey.description)
      for (const [bound, count] of state.buckets) {
        lines.push(`${name}_bucket${labels(tags, { le: Number.isFinite(bound) ? String(bound) : "+Inf" })} ${count}`)
      }
      lines.push(`${name}_sum${labels(tags)} ${state.sum}`)
      lines.push(`${name}_count${labels(tags)} ${state.count}`)
    }
  }
  // The standard process metrics, so that every program's exposition says it is alive and what it holds.
  lines.push(
    "# HELP process_resident_memory_bytes Resident memory size in bytes.",
    "# TYPE process_resident_memory_bytes gauge",
    `process_resident_memory_bytes ${process.memoryUsage().rss}`,
    "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.",
    "# TYPE process_start_time_seconds gauge",
    `process_start_time_seconds ${startTimeSeconds}`
  )
  return `${lines.join("\n")}\n`
})


/** The running metrics server of this process. */
export class MetricsServer extends Context.Tag("Herald/MetricsServer")<MetricsServer, { readonly url: string }>() {}

const metricsApp = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
  request.url.split("?")[0] === "/metrics" && (request.method === "GET" || request.method === "HEAD")
    ? Effect.map(prometheus, (text) => HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8" }))
    : Effect.succeed(HttpServerResponse.text("not found\n", { status: 404 })))

/**
 * `GET /metrics` in the Prometheus text format on an internal port of its own: not behind the public proxy, not
 * rate limited, and answering even while the program's API is busy or not ready.
 */
export const serve = (defaultPort: number) =>
  Layer.unwrapEffect(Effect.map(MetricsConfig(defaultPort), ({ host, port }) =>
    Layer.scoped(
      MetricsServer,
      Effect.gen(function*() {
        yield* HttpServer.serveEffect(metricsApp)
        const { address } = yield* HttpServer.HttpServer
        const host = address._tag !== "TcpAddress" ? "" : address.hostname === "0.0.0.0" || address.hostname === "::" ? "127.0.0.1" : address.hostname
        const url = address._tag === "TcpAddress" ? `http://${host}:${address.port}/metrics` : "a unix socket"
        yield* Effect.logInfo(`metrics on ${url}`)
        return { url }
      })
    ).pipe(Layer.provide(NodeHttpServer.layer(createServer, { port, host })))))
