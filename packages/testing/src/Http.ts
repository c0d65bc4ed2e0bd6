import { request as httpRequest } from "node:http"

/** A minimal black-box HTTP client for tests: what a client sees, nothing else. */
export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly body: unknown
  readonly text: string
}

export interface Call {
  readonly method?: string
  readonly body?: unknown
  readonly raw?: string
  readonly token?: string
  readonly headers?: Record<string, string>
  /** The loopback address to send from (any of 127.0.0.0/8): a distinct client IP. */
  readonly localAddress?: string
}

const sendFrom = (localAddress: string, url: URL, method: string, headers: Record<string, string>, body: string | undefined) =>
  new Promise<{ readonly status: number; readonly headers: Headers; readonly text: string }>((resolve, reject) => {
    const outgoing = httpRequest(url, { method, headers, localAddress, agent: false }, (incoming) => {
      const chunks: Array<Buffer> = []
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk))
      incoming.on("error", reject)
      incoming.on("end", () => {
        const replyHeaders = new Headers()
        for (const [name, value] of Object.entries(incoming.headers)) {
          for (const one of [value ?? []].flat()) replyHeaders.append(name, one)
        }
        resolve({ status: incoming.statusCode ?? 0, headers: replyHeaders, text: Buffer.concat(chunks).toString() })
      })
    })
    outgoing.on("error", reject)
    outgoing.end(body)
  })

/** Sends a request to `base + path`; a JSON `body` is serialised with `Content-Type: application/json`. */
export const request = async (base: string, path: string, call: Call = {}): Promise<Reply> => {
  const headers: Record<string, string> = { ...(call.headers ?? {}) }
  if (call.token !== undefined) headers.authorization = `Bearer ${call.token}`
  let body: string | undefined = call.raw
  if (call.body !== undefined) {
    body = JSON.stringify(call.body)
    headers["content-type"] ??= "application/json"
  }
  const method = call.method ?? (body === undefined ? "GET" : "POST")
  const response = call.localAddress === undefined
    ? await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}) }).then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text() }))
    : await sendFrom(call.localAddress, new URL(base + path), method, headers, body)
  const text = response.text
  let parsed: unknown = undefined
  try {
    parsed = text === "" ? undefined : JSON.parse(text)
  } catch {
    parsed = undefined
  }
  return { status: response.status, headers: response.headers, body: parsed, text }
}

/** A field of a JSON reply, for assertions; undefined when absent. */
export const field = (value: unknown, ...path: ReadonlyArray<string | number>): unknown =>
  path.reduce<unknown>((current, key) =>
    current !== null && typeof current === "object" ? Reflect.get(current, key) : undefined, value)

export const text = (value: unknown, ...path: ReadonlyArray<string | number>): string => String(field(value, ...path))

/** Registers and logs in a fresh user. */
export const signUp = async (base: string, label = "user") => {
  const email = `${label}-${Math.random().toString(36).slice(2, 10)}@example.com`
  const password = "correct horse battery"
  const registered = await request(base, "/api/users/register", { body: { email, password, name: label } })
  if (registered.status !== 201) throw new Error(`register failed: ${registered.status} ${registered.text}`)
  const login = await request(base, "/api/users/login", { body: { email, password } })
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.text}`)
  return {
    email,
    password,
    userId: text(registered.body, "user", "id"),
    token: text(login.body, "accessToken"),
    refreshToken: text(login.body, "refreshToken")
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `read` until `done` holds, or fails after `timeoutMs`. */
export const eventually = async <A>(read: () => Promise<A>, done: (a: A) => boolean, timeoutMs = 20_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  let last: A = await read()
  while (!done(last)) {
    if (Date.now() > deadline) throw new Error(`condition not reached within ${timeoutMs} ms; last value: ${JSON.stringify(last)?.slice(0, 500)}`)
    await sleep(50)
    last = await read()
  }
  return last
}

/**
 * Makes something happen that `target` is told of: a fresh user (the actor) adds them to a new project. Nobody is
 * told of their own acts, so a test that needs a notification needs a second person.
 */
export const tellUser = async (base: string, target: { readonly email: string }, label = "teammate") => {
  const actor = await signUp(base, label)
  const project = await request(base, "/api/projects", { token: actor.token, body: { name: "Shared" } })
  if (project.status !== 201) throw new Error(`project failed: ${project.status} ${project.text}`)
  const projectId = text(project.body, "id")
  const added = await request(base, `/api/projects/${projectId}/members`, { token: actor.token, body: { email: target.email, role: "editor" } })
  if (added.status !== 201) throw new Error(`adding a member failed: ${added.status} ${added.text}`)
  return { actor, projectId }
}

/**
 * A teammate of `user` (an editor of a project `user` owns) who assigns tasks to them: each `assign(title)` makes one
 * `task.assigned` notification for `user` ("mate assigned you '<title>'"); resolves with the created task.
 */
export const teammateOf = async (base: string, user: Awaited<ReturnType<typeof signUp>>, label = "mate") => {
  const mate = await signUp(base, label)
  const project = await request(base, "/api/projects", { token: user.token, body: { name: "Team" } })
  const projectId = text(project.body, "id")
  const added = await request(base, `/api/projects/${projectId}/members`, { token: user.token, body: { email: mate.email, role: "editor" } })
  if (added.status !== 201) throw new Error(`adding a member failed: ${added.status} ${added.text}`)
  const assign = (title: string, via = base) =>
    request(via, "/api/tasks", { token: mate.token, body: { title, projectId, assigneeId: user.userId } })
  return { mate, projectId, assign }
}
