import { describe, expect, layer } from "@effect/vitest"
import { Validator } from "@seriousme/openapi-schema-validator"
import { request, type Reply } from "@herald/testing/Http"
import { Duration, Effect } from "effect"
import {
  isRecord,
  type Json,
  jsonMedia,
  type Operation,
  operationsOf,
  parametersOf,
  recordOf,
  recursiveSchemas,
  responsesOf,
  schemaValidator
} from "./support/OpenApi.ts"
import * as System from "@herald/testing/System"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

const served = (url: string) =>
  Effect.map(promise(() => request(url, "/openapi.json")), (reply): Json => recordOf(reply.body))

const label = ({ method, path }: Operation) => `${method} ${path}`

/** Effect's default titles and descriptions of refinements ("maxLength(200)", "a string at most 200 character(s) long"). */
const machineFiller = /^(an? (string|number|integer|non-negative|positive)\b.*|[a-zA-Z]+\(.*\)|int|unknown)$/

const texts = (node: unknown, into: Array<string> = []): Array<string> => {
  if (Array.isArray(node)) node.forEach((item) => texts(item, into))
  else if (isRecord(node)) {
    for (const [key, value] of Object.entries(node)) {
      if ((key === "title" || key === "description") && typeof value === "string") into.push(value)
      else if (key !== "example" && key !== "examples") texts(value, into)
    }
  }
  return into
}

/** The request a tool makes from the document's examples; `ids` (by prefix) make path parameters name real resources. */
const exampleRequest = ({ operation, path }: Operation, ids: Record<string, string>, token: string) => {
  const parameters = parametersOf(operation)
  const example = (parameter: Json) => String(parameter.example)
  const resolved = path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const parameter = parameters.find((candidate) => candidate.in === "path" && candidate.name === name)
    const documented = parameter === undefined ? name : example(parameter)
    return encodeURIComponent(ids[documented.slice(0, 3)] ?? documented)
  })
  // The stream takes the access token as a parameter: the caller's, not the example's.
  const query = new URLSearchParams(
    parameters.filter((parameter) => parameter.in === "query" && "example" in parameter)
      .map((parameter) => [String(parameter.name), parameter.name === "access_token" ? token : example(parameter)])
  )
  const headers = Object.fromEntries(parameters.filter((parameter) => parameter.in === "header" && "example" in parameter).map((parameter) => [String(parameter.name), example(parameter)]))
  const body = isRecord(operation.requestBody) ? jsonMedia(operation.requestBody)?.example : undefined
  return { path: resolved + (query.size > 0 ? `?${query}` : ""), headers, body, secured: Array.isArray(operation.security) && operation.security.length > 0 }
}

describe("the OpenAPI document", () => {
  layer(System.layer("openapi"), { timeout: Duration.seconds(120), excludeTestServices: true })("gateway", (it) => {
    it.effect("is valid OpenAPI 3.1 with no self-referencing schema, integer limits, no machine filler", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const spec = yield* served(url)
        const validation = yield* promise(() => new Validator().validate(spec))
        expect(validation.errors ?? []).toEqual([])
        expect(recursiveSchemas(spec)).toEqual([])
        const limits = operationsOf(spec).flatMap(({ operation }) => parametersOf(operation).filter((parameter) => parameter.name === "limit"))
        expect(limits.length).toBeGreaterThanOrEqual(5)
        for (const limit of limits) expect(recordOf(limit.schema)).toMatchObject({ type: "integer", minimum: 1, maximum: 100 })
        const unread = operationsOf(spec).flatMap(({ operation }) => parametersOf(operation).filter((parameter) => parameter.name === "unread"))
        for (const flag of unread) expect(recordOf(flag.schema).type).toBe("boolean")
        expect(texts(spec).filter((text) => machineFiller.test(text))).toEqual([])
      }))

    it.effect("every operation has a summary, a description, examples that fit its schemas, and its errors in the API.md shape", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const spec = yield* served(url)
        const validatorFor = schemaValidator(spec)
        const problems: Array<string> = []
        const check = (where: string, schema: unknown, value: unknown) => {
          for (const issue of validatorFor(schema)(value)) problems.push(`${where}: example does not fit its schema: ${issue}`)
        }
        for (const entry of operationsOf(spec)) {
          const { operation } = entry
          const name = label(entry)
          const statuses = responsesOf(operation).map(([status]) => status)
          if (typeof operation.summary !== "string" || operation.summary.length < 5) problems.push(`${name}: no summary`)
          if (typeof operation.description !== "string" || operation.description.length < 30) problems.push(`${name}: no description`)
          for (const parameter of parametersOf(operation)) {
            if (!("example" in parameter)) problems.push(`${name}: parameter ${String(parameter.name)} has no example`)
            else check(`${name} parameter ${String(parameter.name)}`, parameter.schema, parameter.example)
          }
          if (isRecord(operation.requestBody)) {
            const media = jsonMedia(operation.requestBody)
            if (media === undefined || !("example" in media)) problems.push(`${name}: request body has no example`)
            else check(`${name} request`, media.schema, media.example)
            for (const status of [400, 413, 415]) if (!statuses.includes(status)) problems.push(`${name}: takes a body but documents no ${status}`)
          }
          if (parametersOf(operation).length > 0 && !statuses.includes(400)) problems.push(`${name}: takes parameters but documents no 400`)
          if (entry.path.includes("{id}") && !statuses.includes(404)) problems.push(`${name}: names a resource but documents no 404`)
          if (Array.isArray(operation.security) && operation.security.length > 0 && !statuses.includes(401)) problems.push(`${name}: is protected but documents no 401`)
          if (!["/health", "/ready"].includes(entry.path)) {
            for (const status of [429, 503]) if (!statuses.includes(status)) problems.push(`${name}: documents no ${status}`)
          }
          for (const [status, response] of responsesOf(operation)) {
            if (typeof response.description !== "string" || response.description.length < 5) problems.push(`${name} ${status}: no description`)
            for (const [type, media] of Object.entries(recordOf(response.content))) {
              if (!isRecord(media) || !("example" in media)) {
                problems.push(`${name} ${status} ${type}: no example`)
                continue
              }
              check(`${name} ${status}`, media.schema, media.example)
              const isError = status >= 400 && !(entry.path === "/ready" && status === 503)
              if (isError) {
                // The error shape of API.md: { error: { code, message, details? } }, and nothing else is accepted.
                const fits = validatorFor(media.schema)
                if (fits({ error: { code: "x", message: "y" } }).length > 0) problems.push(`${name} ${status}: the error shape does not fit`)
                if (fits({ code: "x", message: "y" }).length === 0) problems.push(`${name} ${status}: not the error shape`)
              }
            }
          }
        }
        expect(problems).toEqual([])
      }))

    it.effect("the live server answers each documented example request with a documented status and a body that fits", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const spec = yield* served(url)
        const validatorFor = schemaValidator(spec)
        const operations = operationsOf(spec)
        const find = (method: string, path: string) => {
          const found = operations.find((entry) => entry.method === method && entry.path === path)
          if (found === undefined) throw new Error(`${method} ${path} is not documented`)
          return found
        }
        let token = ""
        const problems: Array<string> = []
        const outcomes: Array<string> = []
        let pass = 0
        const send = (entry: Operation, ids: Record<string, string>) =>
          Effect.gen(function*() {
            const sent = exampleRequest(entry, ids, token)
            // The documented Idempotency-Key, made unique per operation and pass: a key names one request.
            const headers = "idempotency-key" in sent.headers
              ? { ...sent.headers, "idempotency-key": `${String(sent.headers["idempotency-key"])}-${label(entry).replace(/\W+/g, "-")}-${pass}` }
              : sent.headers
            const reply: Reply = yield* promise(() =>
              request(url, sent.path, {
                method: entry.method,
                headers,
                ...(sent.secured ? { token } : {}),
                ...(sent.body === undefined ? {} : { body: sent.body })
              })
            )
            const name = `${label(entry)} (${sent.path})`
            outcomes.push(`${name} → ${reply.status}`)
            const response = responsesOf(entry.operation).find(([status]) => status === reply.status)?.[1]
            if (response === undefined) {
              problems.push(`${name}: ${reply.status} is not documented (${reply.text.slice(0, 200)})`)
              return reply
            }
            const documentedTypes = Object.keys(recordOf(response.content))
            if (documentedTypes.length === 0) {
              if (reply.text !== "") problems.push(`${name}: ${reply.status} documents no body but got ${reply.text.slice(0, 100)}`)
              return reply
            }
            const contentType = (reply.headers.get("content-type") ?? "").split(";")[0]?.trim() ?? ""
            const media = recordOf(response.content)[contentType]
            if (!isRecord(media)) {
              // The download's documented type is CSV; a JSON export is served as JSON, as its description says.
              if (!(entry.path.endsWith("/download") && contentType === "application/json")) {
                problems.push(`${name}: content type ${contentType} is not documented for ${reply.status}`)
              }
              return reply
            }
            if (contentType === "application/json") {
              for (const issue of validatorFor(media.schema)(reply.body)) problems.push(`${name}: ${reply.status} body does not fit: ${issue}`)
            }
            return reply
          })

        // The documented account, then its tokens, from the examples themselves.
        const registered = yield* send(find("POST", "/api/users/register"), {})
        expect(registered.status).toBe(201)
        const login = yield* send(find("POST", "/api/users/login"), {})
        expect(login.status).toBe(200)
        token = String(recordOf(login.body).accessToken)

        // Every operation with its examples as they are (example ids name nothing: 404s), deletions last.
        const ordered = [...operations.filter((entry) => entry.method !== "DELETE"), ...operations.filter((entry) => entry.method === "DELETE")]
        for (const entry of ordered) yield* send(entry, {})

        // Then with the path's ids naming real resources, made from the examples too.
        pass += 1
        const created = (reply: Reply) => String(recordOf(reply.body).id)
        const ids = {
          prj: created(yield* send(find("POST", "/api/projects"), {})),
          tsk: created(yield* send(find("POST", "/api/tasks"), {})),
          exp: created(yield* send(find("POST", "/api/exports"), {}))
        }
        const withIds = ordered.filter((entry) => entry.path.includes("{id}"))
        const answered = []
        for (const entry of withIds) answered.push([label(entry), (yield* send(entry, ids)).status] as const)
        expect(problems).toEqual([])
        const succeeded = answered.filter(([, status]) => status < 300).map(([name]) => name)
        expect(succeeded).toEqual(expect.arrayContaining(["GET /api/projects/{id}", "PATCH /api/projects/{id}", "GET /api/tasks/{id}", "PUT /api/tasks/{id}", "GET /api/exports/{id}", "DELETE /api/projects/{id}"]))
        expect(outcomes.length).toBeGreaterThan(operations.length)
      }))
  })
})
