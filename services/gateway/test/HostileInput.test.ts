import { describe, expect, layer } from "@effect/vitest"
import { codeForStatus } from "@herald/domain/ApiError"
import { request, signUp } from "@herald/testing/Http"
import { Duration, Effect } from "effect"
import fc from "fast-check"
import { isRecord, type Json, jsonMedia, type Operation, operationsOf, parametersOf, recordOf } from "./support/OpenApi.ts"
import * as System from "@herald/testing/System"

/** How long the property runs: long enough for thousands of requests, well inside a minute. */
const budgetMs = 35_000

/** A request left unanswered this long is a failure of its own (a hang). */
const answerWithinMs = 5_000

const operators: ReadonlyArray<unknown> = [
  { $gt: "" },
  { $ne: null },
  { $where: "sleep(1000)" },
  { $regex: ".*" },
  { $in: [] },
  { $expr: { $eq: [1, 1] } },
  JSON.parse("{\"__proto__\":{\"polluted\":true}}"),
  { constructor: { prototype: { polluted: true } } }
]

const oddStrings: ReadonlyArray<string> = [
  "",
  " ",
  "\u0000",
  "\ud800",
  "\u202e\ufeff",
  "😀".repeat(80),
  "' OR 1=1 --",
  "../../etc/passwd",
  "%00",
  "${jndi:ldap://x}",
  "<script>alert(1)</script>",
  "NaN",
  "-1",
  "1e400",
  "0x10",
  "__proto__"
]

const resolve = (schema: unknown, components: Json): Json => {
  const node = recordOf(schema)
  return typeof node.$ref === "string" ? resolve(components[node.$ref.replace("#/components/schemas/", "")], components) : node
}

/** Values the schema accepts (or nearly: strings are not held to their pattern unless an example is at hand). */
const valid = (schema: unknown, components: Json, depth = 0): fc.Arbitrary<unknown> => {
  const node = resolve(schema, components)
  const examples = Array.isArray(node.examples) ? node.examples : []
  const members = [node.anyOf, node.oneOf, node.allOf].find(Array.isArray)
  if (members !== undefined && members.length > 0) return fc.oneof(...members.map((member) => valid(member, components, depth + 1)))
  if (Array.isArray(node.enum) && node.enum.length > 0) return fc.constantFrom(...node.enum)
  const withExamples = (arbitrary: fc.Arbitrary<unknown>) => (examples.length > 0 ? fc.oneof(fc.constantFrom(...examples), arbitrary) : arbitrary)
  const number = (key: string, fallback: number) => (typeof node[key] === "number" ? node[key] : fallback)
  switch (node.type) {
    case "string":
      return withExamples(
        typeof node.pattern === "string"
          ? fc.stringMatching(new RegExp(node.pattern))
          : fc.string({ minLength: number("minLength", 0), maxLength: Math.min(number("maxLength", 40), 300), unit: "grapheme" })
      )
    case "integer":
      return withExamples(fc.integer({ min: number("minimum", -1000), max: number("maximum", 1000) }))
    case "number":
      return withExamples(fc.double({ noNaN: true, noDefaultInfinity: true }))
    case "boolean":
      return fc.boolean()
    case "null":
      return fc.constant(null)
    case "array":
      return depth > 4 ? fc.constant([]) : fc.array(valid(node.items, components, depth + 1), { maxLength: 3 })
    case "object": {
      if (depth > 4) return fc.constant({})
      const properties = Object.entries(recordOf(node.properties))
      const required = Array.isArray(node.required) ? node.required.filter((name): name is string => typeof name === "string") : []
      return withExamples(fc.record(Object.fromEntries(properties.map(([name, property]) => [name, valid(property, components, depth + 1)])), { requiredKeys: required }))
    }
    default:
      return withExamples(fc.jsonValue({ maxDepth: 2 }))
  }
}

/** Values at and past the schema's bounds: lengths and ranges one off, the wrong type, operator objects, odd text. */
const invalid = (schema: unknown, components: Json): fc.Arbitrary<unknown> => {
  const node = resolve(schema, components)
  const bounds: Array<unknown> = []
  if (typeof node.maxLength === "number") bounds.push("x".repeat(node.maxLength), "x".repeat(node.maxLength + 1), " ".repeat(node.maxLength + 1))
  if (typeof node.minLength === "number" && node.minLength > 0) bounds.push("x".repeat(node.minLength - 1))
  if (typeof node.minimum === "number") bounds.push(node.minimum, node.minimum - 1, node.minimum - 0.5)
  if (typeof node.maximum === "number") bounds.push(node.maximum, node.maximum + 1, Number.MAX_SAFE_INTEGER + 2)
  return fc.oneof(
    fc.constantFrom(...operators),
    fc.constantFrom(...oddStrings),
    fc.constantFrom<unknown>(null, true, 0, -1, 1.5, 1e308, [], {}, [1, "a"], { nested: { deeper: [null] } }),
    ...(bounds.length > 0 ? [fc.constantFrom(...bounds)] : []),
    fc.jsonValue({ maxDepth: 3 })
  )
}

const anyValue = (schema: unknown, components: Json) =>
  fc.oneof({ arbitrary: valid(schema, components), weight: 3 }, { arbitrary: invalid(schema, components), weight: 2 })

const nested = (depth: number, open: string, close: string) => open.repeat(depth) + close.repeat(depth)

/** Raw bodies that no schema describes: too large, too deep, not JSON, JSON of the wrong kind. */
const rawBody = fc.oneof(
  { arbitrary: fc.constantFrom("{", "", "null", "[]", "\"text\"", "12", "{\"a\":1,}", "\u0000", "{\"__proto__\":{\"x\":1}}"), weight: 4 },
  { arbitrary: fc.integer({ min: 20, max: 200_000 }).map((depth) => nested(depth, "[", "]")), weight: 2 },
  { arbitrary: fc.integer({ min: 20, max: 5_000 }).map((depth) => "{\"title\":" + nested(depth, "{\"a\":", "}").replace(/\{"a":\}$/, "1}") + "}"), weight: 1 },
  { arbitrary: fc.constantFrom(1024 * 1024 - 64, 1024 * 1024 + 1, 3 * 1024 * 1024).map((size) => JSON.stringify({ title: "x".repeat(size) })), weight: 1 },
  { arbitrary: fc.string({ maxLength: 200, unit: "binary" }), weight: 2 }
)

const contentTypes = fc.constantFrom(
  "application/json",
  "application/json",
  "application/json; charset=utf-8",
  "application/merge-patch+json",
  "APPLICATION/JSON",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data",
  "application/json; charset=utf-16",
  "application/xml",
  "*/*",
  ";;;"
)

/** Other spellings of a path: the router must decide the same way, or answer 404. */
const spellings = (path: string) =>
  fc.constantFrom(
    path,
    path,
    path,
    `${path}/`,
    `/${path}`,
    path.toUpperCase(),
    `${path};x`,
    path.replace(/[a-z]/, (letter) => `%${letter.charCodeAt(0).toString(16)}`),
    `${path}/..`,
    `${path}%00`,
    `${path}%ZZ`,
    `${path}/%C0%AF`,
    `${path}/${"a".repeat(3000)}`,
    `${path}?${"q=1&".repeat(500)}`
  )

interface Generated {
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly body?: string
}

const encodeQueryValue = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value) ?? "")

/** Percent-encodes the UTF-8 of any text, lone surrogates included (as U+FFFD), where `encodeURIComponent` throws. */
const percentEncode = (text: string) =>
  [...Buffer.from(text, "utf8")].map((byte) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).padStart(2, "0").toUpperCase()}`)).join("")

/** Requests for one operation of the document, built from its parameters' and body's schemas. */
const requestsFor = (entry: Operation, components: Json, token: string): fc.Arbitrary<Generated> => {
  const parameters = parametersOf(entry.operation)
  const pathParams = parameters.filter((parameter) => parameter.in === "path")
  const queryParams = parameters.filter((parameter) => parameter.in === "query")
  const headerParams = parameters.filter((parameter) => parameter.in === "header")
  const bodySchema = isRecord(entry.operation.requestBody) ? jsonMedia(entry.operation.requestBody)?.schema : undefined
  const path = fc.record(Object.fromEntries(pathParams.map((parameter) => [String(parameter.name), anyValue(parameter.schema, components)])))
    .map((values) => entry.path.replace(/\{(\w+)\}/g, (_, name: string) => percentEncode(encodeQueryValue(values[name]))))
    .chain(spellings)
  const query = fc.array(
    fc.oneof(
      ...queryParams.map((parameter) => anyValue(parameter.schema, components).map((value) => `${String(parameter.name)}=${percentEncode(encodeQueryValue(value))}`)),
      ...queryParams.map((parameter) => fc.constantFrom(`${String(parameter.name)}[$gt]=`, `${String(parameter.name)}[]=1`, String(parameter.name))),
      fc.constant("unknown=1")
    ),
    { maxLength: 4 }
  ).map((pairs) => (pairs.length === 0 ? "" : `?${pairs.join("&")}`))
  const headers = fc.record({
    authorization: fc.constantFrom<string | undefined>(`Bearer ${token}`, `Bearer ${token}`, `Bearer ${token}`, undefined, "Bearer", "Bearer x.y.z", `Basic ${btoa("a:b")}`, `Bearer ${token}x`, `Bearer ${"a".repeat(5000)}`),
    contentType: contentTypes,
    requestId: fc.constantFrom<string | undefined>(undefined, "ok-123", "bad id <script>", "x".repeat(500)),
    extra: fc.record(Object.fromEntries(headerParams.map((parameter) => [String(parameter.name), anyValue(parameter.schema, components).map(encodeQueryValue)])), { requiredKeys: [] }),
    forwarded: fc.constantFrom<string | undefined>(undefined, "1.2.3.4", "not-an-ip, ::1, 999.1.1.1")
  }).map(({ authorization, contentType, extra, forwarded, requestId }) => ({
    // Header values a client can send at all (fetch refuses others).
    ...Object.fromEntries(Object.entries(extra).filter((entry): entry is [string, string] => typeof entry[1] === "string" && /^[\t\x20-\x7e]*$/.test(entry[1]))),
    "content-type": contentType,
    ...(authorization === undefined ? {} : { authorization }),
    ...(requestId === undefined ? {} : { "x-request-id": requestId }),
    ...(forwarded === undefined ? {} : { "x-forwarded-for": forwarded })
  }))
  const jsonBody = bodySchema === undefined
    ? fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value))
    : fc.oneof(
      { arbitrary: valid(bodySchema, components).map((value) => JSON.stringify(value)), weight: 3 },
      // A valid body with one field replaced by something hostile, or an unknown field added.
      {
        arbitrary: fc.tuple(valid(bodySchema, components), fc.constantFrom(...Object.keys(recordOf(resolve(bodySchema, components).properties)), "unknownField", "__proto__"), invalid(bodySchema, components))
          .map(([value, key, replacement]) => JSON.stringify({ ...recordOf(value), [key]: replacement })),
        weight: 3
      },
      { arbitrary: invalid(bodySchema, components).map((value) => JSON.stringify(value) ?? "null"), weight: 1 }
    )
  const body = fc.oneof(
    { arbitrary: fc.constant(undefined), weight: bodySchema === undefined ? 4 : 1 },
    { arbitrary: jsonBody, weight: 4 },
    { arbitrary: rawBody, weight: 2 }
  )
  const method = fc.oneof({ arbitrary: fc.constant(entry.method), weight: 9 }, { arbitrary: fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"), weight: 1 })
  return fc.record({ method, path, query, headers, body }).map(({ body, headers, method, path, query }) => ({
    method,
    path: path + query,
    headers,
    ...(body === undefined || method === "GET" || method === "HEAD" ? {} : { body })
  }))
}

const isErrorShape = (body: unknown) => {
  if (!isRecord(body) || Object.keys(body).length !== 1 || !isRecord(body.error)) return false
  const { code, message, ...rest } = body.error
  return typeof code === "string" && /^[a-z_]+$/.test(code) && typeof message === "string" && message.length > 0 &&
    Object.keys(rest).every((key) => key === "details")
}

describe("hostile input", () => {
  layer(System.layer("hostile"), { timeout: Duration.seconds(120), excludeTestServices: true })("gateway", (it) => {
    it.effect("requests generated from the OpenAPI document, valid or hostile, never get a 5xx and every error is in the API.md shape", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const spec = recordOf((yield* Effect.promise(() => request(url, "/openapi.json"))).body)
        const components = recordOf(recordOf(spec.components).schemas)
        const { token } = yield* Effect.promise(() => signUp(url, "hostile"))
        const operations = operationsOf(spec)
        const generated = fc.oneof(...operations.map((entry) => requestsFor(entry, components, token)))
        let sent = 0
        const recent: Array<string> = []
        const failures: Array<string> = []
        const started = Date.now()
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(generated, async (generated) => {
              sent++
              recent.push(`${generated.method} ${generated.path.slice(0, 60)} [${generated.headers["content-type"]}] body ${generated.body?.length ?? "none"}`)
              let status: number
              let text: string
              let requestId: string | null
              const began = Date.now()
              try {
                const response = await fetch(url + generated.path, {
                  method: generated.method,
                  headers: generated.headers,
                  signal: AbortSignal.timeout(answerWithinMs),
                  ...(generated.body === undefined ? {} : { body: generated.body })
                })
                status = response.status
                requestId = response.headers.get("x-request-id")
                text = await response.text()
              } catch (error) {
                // An upload past the limit may be cut off mid-body (Edge.ts says why): only for bodies over 1 MiB.
                if (generated.body !== undefined && generated.body.length > 1024 * 1024 && Date.now() - began < answerWithinMs) return true
                failures.push(`${generated.method} ${generated.path.slice(0, 120)} [${generated.headers["content-type"]}] ${(generated.body ?? "").slice(0, 80)}: no answer after ${Date.now() - began} ms (${String(error)})`)
                return false
              }
              let body: unknown = undefined
              try {
                body = text === "" ? undefined : JSON.parse(text)
              } catch {
                body = undefined
              }
              const describe = `${generated.method} ${generated.path.slice(0, 120)} [${generated.headers["content-type"]}] ${(generated.body ?? "").slice(0, 80)} → ${status} ${text.slice(0, 160)}`
              const readyReport = generated.path.startsWith("/ready") && status === 503 && isRecord(body) && body.status === "unavailable"
              const shaped = generated.method === "HEAD" || status < 400 || readyReport ||
                (isErrorShape(body) && recordOf(recordOf(body).error).code === codeForStatus(status))
              const ok = (status < 500 || readyReport) && shaped && requestId !== null
              if (!ok) failures.push(describe)
              return ok
            }),
            { numRuns: 1_000_000, interruptAfterTimeLimit: budgetMs, markInterruptAsFailure: false, endOnFailure: true }
          ).catch((error: unknown) => {
            failures.push(String(error).slice(0, 2000))
          })
        )
        const seconds = (Date.now() - started) / 1000
        if (failures.length > 0) console.log(`the last requests before the failure:\n${recent.slice(-8).join("\n")}`)
        console.log(`hostile input: ${sent} requests in ${seconds.toFixed(1)} s over ${operations.length} operations`)
        expect(failures).toEqual([])
        expect(sent).toBeGreaterThan(500)
      }), { timeout: 60_000 })

    it.effect("a body HttpApi would read a second time, or parse as an empty multipart, is refused with 415 instead of hanging or a 500", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const { token } = yield* Effect.promise(() => signUp(url, "types"))
        const send = (method: string, path: string, contentType: string, body?: string) =>
          Effect.promise(() =>
            fetch(url + path, {
              method,
              headers: { "content-type": contentType, authorization: `Bearer ${token}` },
              signal: AbortSignal.timeout(answerWithinMs),
              ...(body === undefined ? {} : { body })
            }).then(async (response) => ({ status: response.status, body: recordOf(await response.json()) }), (error: unknown) => ({ status: 0, body: recordOf({ hung: String(error) }) }))
          )
        const refused = [
          yield* send("PATCH", "/api/tasks/tsk_01J9Z3YQ7KWRC8V2T5X0F8M4PD", "application/merge-patch+json", JSON.stringify({ title: "x" })),
          yield* send("POST", "/api/users/refresh", "application/vnd.api+json", JSON.stringify({ refreshToken: "x" })),
          yield* send("POST", "/api/users/refresh", "multipart/form-data"),
          yield* send("POST", "/api/users/refresh", "multipart/form-data; boundary=x"),
          yield* send("POST", "/api/users/login", "application/xml", "")
        ]
        for (const reply of refused) {
          expect(reply.status).toBe(415)
          expect(recordOf(reply.body.error).code).toBe("unsupported_media_type")
        }
        // Another spelling of a path is no route at all: 404 before its body is looked at.
        const misspelled = yield* send("PATCH", "/%61pi/users/profile", "application/xml", JSON.stringify({ name: "Ada" }))
        expect([misspelled.status, recordOf(misspelled.body.error).code]).toEqual([404, "not_found"])
        // What browsers send for an empty string body is still fine without a body.
        expect((yield* Effect.promise(() => request(url, "/api/notifications/read-all", { method: "POST", raw: "", token, headers: { "content-type": "text/plain;charset=UTF-8" } }))).status).toBe(204)
      }))
  })
})
