import { text } from "./Http.ts"
import { Effect } from "effect"
import WebSocket from "ws"

export interface StreamClient {
  readonly socket: WebSocket
  /** Every JSON message received so far, with the time it arrived. */
  readonly messages: Array<{ readonly at: number; readonly body: unknown }>
  /** How the server closed the stream, once it has. */
  readonly closed: Promise<{ readonly code: number; readonly reason: string; readonly at: number }>
}

/** A WebSocket client that keeps every JSON message it receives. */
export const connect = (url: string, options: { readonly token?: string; readonly query?: string }) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      catch: (error) => error,
      try: () =>
        new Promise<StreamClient>((resolve, reject) => {
          const target = `${url.replace("http", "ws")}/api/notifications/stream${options.query ?? ""}`
          const socket = options.token === undefined ? new WebSocket(target) : new WebSocket(target, ["bearer", options.token])
          const messages: StreamClient["messages"] = []
          socket.on("message", (data) => messages.push({ at: Date.now(), body: JSON.parse(data.toString()) }))
          const closed = new Promise<{ readonly code: number; readonly reason: string; readonly at: number }>((done) =>
            socket.once("close", (code, reason) => done({ code, reason: reason.toString(), at: Date.now() })))
          socket.once("open", () => resolve({ socket, messages, closed }))
          socket.once("error", reject)
          socket.once("unexpected-response", (_, response) => reject(new Error(`handshake answered ${response.statusCode}`)))
        })
    }),
    ({ socket }) => Effect.sync(() => socket.close())
  )

/** The messages of one `type` (`ready`, `notification`, `heartbeat`). */
export const ofType = <M extends { readonly body: unknown }>(messages: ReadonlyArray<M>, type: string) =>
  messages.filter((m) => text(m.body, "type") === type)

