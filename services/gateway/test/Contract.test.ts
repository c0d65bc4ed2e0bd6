import { describe, expect, layer } from "@effect/vitest"
import { Validator } from "@seriousme/openapi-schema-validator"
import { field, request, signUp, text } from "@herald/testing/Http"
import { Duration, Effect } from "effect"
import * as System from "@herald/testing/System"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

/** Every route of API.md, as `METHOD path` with OpenAPI path parameters. */
const apiRoutes = [
  "GET /health",
  "GET /ready",
  "GET /.well-known/jwks.json",
  "POST /api/users/register",
  "POST /api/users/login",
  "POST /api/users/refresh",
  "POST /api/users/logout",
  "GET /api/users/profile",
  "PATCH /api/users/profile",
  "POST /api/projects",
  "GET /api/projects",
  "GET /api/projects/{id}",
  "PATCH /api/projects/{id}",
  "DELETE /api/projects/{id}",
  "GET /api/projects/{id}/members",
  "POST /api/projects/{id}/members",
  "PATCH /api/projects/{id}/members/{userId}",
  "DELETE /api/projects/{id}/members/{userId}",
  "POST /api/projects/{id}/transfer",
  "POST /api/tasks",
  "POST /api/tasks/upload",
  "GET /api/tasks",
  "GET /api/tasks/{id}",
  "PUT /api/tasks/{id}",
  "PATCH /api/tasks/{id}",
  "DELETE /api/tasks/{id}",
  "POST /api/tasks/{id}/watch",
  "DELETE /api/tasks/{id}/watch",
  "POST /api/tasks/{id}/comments",
  "GET /api/tasks/{id}/comments",
  "PATCH /api/comments/{id}",
  "DELETE /api/comments/{id}",
  "GET /api/notifications",
  "GET /api/notifications/get-all",
  "GET /api/notifications/latest",
  "GET /api/notifications/unread-count",
  "POST /api/notifications/{id}/read",
  "POST /api/notifications/read-all",
  "GET /api/notifications/stream",
  "POST /api/exports",
  "GET /api/exports/{id}",
  "GET /api/exports/{id}/download"
]

const isErrorShape = (body: unknown) =>
  typeof field(body, "error", "code") === "string" && typeof field(body, "error", "message") === "string" &&
  Object.keys(body as object).length === 1

const deep = (levels: number) => "[".repeat(levels) + "]".repeat(levels)

/** Hostile and malformed bodies: wrong types, operators, huge strings, deep nesting, odd unicode, not JSON at all. */
const badBodies: ReadonlyArray<{ readonly raw: string; readonly contentType?: string }> = [
  { raw: "{" },
  { raw: "null" },
  { raw: "[]" },
  { raw: "\"just a string\"" },
  { raw: "12345" },
  { raw: JSON.stringify({ email: { $gt: "" }, password: { $ne: null }, name: [] }) },
  { raw: JSON.stringify({ title: 42, priority: "urgent", status: "blocked", dueDate: "tomorrow", projectId: { $in: [] } }) },
  { raw: JSON.stringify({ title: "x".repeat(300_000), description: "y".repeat(300_000), name: "z".repeat(300_000) }) },
  { raw: JSON.stringify({ title: "\u0000\u202e\ud83d\ude00\ufeff", name: "\ud800", email: "a@b.c\u0000", format: "pdf" }) },
  { raw: deep(20_000) },
  { raw: JSON.stringify({ refreshToken: 1, format: ["csv"], __proto__: { polluted: true }, constructor: { prototype: {} } }) },
  { raw: "email=a@b.c&password=x", contentType: "application/x-www-form-urlencoded" },
  { raw: "<xml/>", contentType: "text/xml" }
]

describe("the public contract", () => {
  layer(System.layer("contract"), { timeout: Duration.seconds(120), excludeTestServices: true })("gateway", (it) => {
    it.effect("serves an OpenAPI 3.1 document that validates and lists every route of API.md, and a docs page", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const reply = yield* promise(() => request(url, "/openapi.json"))
        expect(reply.status).toBe(200)
        const spec = reply.body
        expect(text(spec, "openapi")).toMatch(/^3\.1\./)
        const validation = yield* promise(() => new Validator().validate(JSON.parse(reply.text)))
        expect(validation.errors ?? []).toEqual([])
        expect(validation.valid).toBe(true)
        const paths = field(spec, "paths") as Record<string, Record<string, unknown>>
        const listed = Object.entries(paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`))
        expect(listed.sort()).toEqual(expect.arrayContaining(apiRoutes))
        expect(JSON.stringify(spec)).not.toContain("HttpApiDecodeError")
        const docs = yield* promise(() => request(url, "/docs"))
        expect(docs.status).toBe(200)
        expect(docs.text).toContain("<html")
      }))

    it.effect("every response carries X-Request-Id (echoed when sane) and security headers, never X-Powered-By", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const echoed = yield* promise(() => request(url, "/health", { headers: { "x-request-id": "abc-123_X.y" } }))
        expect(echoed.headers.get("x-request-id")).toBe("abc-123_X.y")
        const insane = yield* promise(() => request(url, "/nope", { headers: { "x-request-id": "bad id <script>" } }))
        expect(insane.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
        const generated = yield* promise(() => request(url, "/api/tasks"))
        expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
        for (const reply of [echoed, insane, generated]) {
          expect(reply.headers.get("x-content-type-options")).toBe("nosniff")
          expect(reply.headers.get("x-powered-by")).toBeNull()
          expect(reply.headers.get("content-type") ?? "").toContain("application/json")
        }
      }))

    it.effect("unknown routes are 404, wrong methods 405 with Allow, both in the error shape", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const missing = yield* promise(() => request(url, "/api/nothing-here"))
        expect(missing.status).toBe(404)
        expect(isErrorShape(missing.body)).toBe(true)
        const wrong = yield* promise(() => request(url, "/api/tasks/abc", { method: "POST", body: {} }))
        expect(wrong.status).toBe(405)
        expect(wrong.headers.get("allow")).toContain("PATCH")
        expect(isErrorShape(wrong.body)).toBe(true)
      }))

    it.effect("bodies over 1 MiB are 413, non-JSON content types 415, malformed JSON 400", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const { token } = yield* promise(() => signUp(url, "limits"))
        const big = JSON.stringify({ title: "x".repeat(1024 * 1024 + 10) })
        const tooLarge = yield* promise(() => request(url, "/api/tasks", { raw: big, token, headers: { "content-type": "application/json" } }))
        expect(tooLarge.status).toBe(413)
        expect(field(tooLarge.body, "error", "code")).toBe("payload_too_large")
        // Without a Content-Length (chunked), the limit holds as the body is read: 413, or the upload is cut off.
        const chunked = yield* promise(async () => {
          const body = new ReadableStream({
            start(controller) {
              for (let i = 0; i < 20; i++) controller.enqueue(new TextEncoder().encode("x".repeat(100_000)))
              controller.close()
            }
          })
          const response = await fetch(`${url}/api/tasks`, {
            method: "POST",
            body,
            headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
            duplex: "half"
          } as RequestInit)
          return response.status
        }).pipe(Effect.catchAllDefect(() => Effect.succeed("reset")))
        expect([413, "reset"]).toContain(chunked)
        const form = yield* promise(() => request(url, "/api/tasks", { raw: "title=x", token, headers: { "content-type": "application/x-www-form-urlencoded" } }))
        expect(form.status).toBe(415)
        expect(field(form.body, "error", "code")).toBe("unsupported_media_type")
        const broken = yield* promise(() => request(url, "/api/tasks", { raw: "{\"title\":", token, headers: { "content-type": "application/json" } }))
        expect(broken.status).toBe(400)
        expect(field(broken.body, "error", "code")).toBe("validation_failed")
      }))

    it.effect("a malformed-input corpus against every route: never a 5xx, always the error shape", () =>
      Effect.gen(function*() {
        const { url } = yield* System.TestSystem
        const { token } = yield* promise(() => signUp(url, "corpus"))
        const ids = ["tsk_01M83N7SEMGWZ7Z3S3GWPHE91P", "%00", "..%2F..%2Fetc%2Fpasswd", "x".repeat(500), "' OR 1=1 --", "%F0%9F%98%80", "{\"$gt\":\"\"}"]
        const queries = ["", "?limit=0", "?limit=101", "?limit=abc", "?limit=-1", "?cursor=%00", "?cursor=" + "A".repeat(300), "?status=blocked", "?unread=maybe", "?projectId=%24ne", "?since=x"]
        const failures: Array<string> = []
        for (const route of apiRoutes) {
          const [method = "GET", template = "/"] = route.split(" ")
          for (const id of template.includes("{id}") ? ids : [""]) {
            const path = template.replace("{id}", id)
            for (const auth of [undefined, token, "not.a.token"]) {
              const variants = method === "GET" || method === "DELETE"
                ? queries.map((query) => ({ path: path + query }))
                : badBodies.map((body) => ({ path, ...body }))
              for (const variant of variants) {
                const reply = yield* promise(() =>
                  request(url, variant.path, {
                    method,
                    ...(auth !== undefined ? { token: auth } : {}),
                    ...("raw" in variant && typeof variant.raw === "string"
                      ? { raw: variant.raw, headers: { "content-type": "contentType" in variant && typeof variant.contentType === "string" ? variant.contentType : "application/json" } }
                      : {})
                  })
                )
                const wellFormed = reply.status < 400 || (isErrorShape(reply.body) && reply.status < 500)
                if (!wellFormed) {
                  failures.push(`${method} ${variant.path.slice(0, 80)} → ${reply.status} ${reply.text.slice(0, 120)}`)
                }
              }
            }
          }
        }
        expect(failures).toEqual([])
      }), { timeout: 300_000 })
  })
})
