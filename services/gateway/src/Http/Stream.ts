import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { NodeHttpServerRequest } from "@effect/platform-node"
import * as Socket from "@effect/platform/Socket"
import { HeraldApi } from "@herald/domain/Api"
import { Unauthorized } from "@herald/domain/Errors"
import { NotificationId } from "@herald/domain/Ids"
import { type InboxCounts, Notification, StreamMessage } from "@herald/domain/Notification"
import type { VersionedCache } from "@herald/infra/Cache"
import type { TokenVerifier } from "@herald/infra/Jwt"
import { callNotifications, NotificationsClient } from "@herald/infra/ServiceClients"
import { Clock, Deferred, Duration, Effect, Fiber, Option, Queue, Schedule, Schema } from "effect"
import { authenticate } from "../Authentication.ts"
import { type Closing, closeCodes, StreamHub } from "../StreamHub.ts"

const encodeMessage = Schema.encodeSync(Schema.parseJson(StreamMessage))
const isNotificationId = Schema.is(NotificationId)

/**
 * The token of a WebSocket handshake. Browsers cannot set `Authorization` on a WebSocket, so it comes as a
 * subprotocol (`Sec-WebSocket-Protocol: bearer, <token>`), or in `?access_token=`.
 */
export const handshakeToken = (protocols: string | undefined, queryToken: string | undefined): string | undefined => {
  const offered = (protocols ?? "").split(",").map((p) => p.trim()).filter((p) => p !== "")
  const marker = offered.findIndex((p) => p.toLowerCase() === "bearer" || p.toLowerCase() === "access_token")
  const fromProtocol = marker >= 0 ? offered[marker + 1] : offered.find((p) => p.split(".").length === 3)
  return fromProtocol ?? queryToken
}

/** Bytes waiting in the socket's send buffer: what a client that stopped reading leaves behind. */
const bufferedBytes = (request: HttpServerRequest.HttpServerRequest): number => {
  const { socket } = NodeHttpServerRequest.toIncomingMessage(request)
  return typeof socket?.writableLength === "number" ? socket.writableLength : 0
}

export const StreamLive = HttpApiBuilder.group(HeraldApi, "stream", (handlers) =>
  Effect.gen(function*() {
    const notifications = yield* NotificationsClient
    const hub = yield* StreamHub
    const context = yield* Effect.context<TokenVerifier | VersionedCache>()
    const { heartbeat, maxBufferedBytes, maxPerUser } = hub.config
    return handlers.handle("stream", ({ request, urlParams }) =>
      Effect.gen(function*() {
        const token = handshakeToken(request.headers["sec-websocket-protocol"], urlParams.access_token)
        if (token === undefined) return yield* Effect.fail(new Unauthorized({ message: "missing access token" }))
        const claims = yield* authenticate(token).pipe(Effect.provide(context))
        if ((request.headers.upgrade ?? "").toLowerCase() !== "websocket") {
          return HttpServerResponse.unsafeJson(
            { error: { code: "upgrade_required", message: "this endpoint speaks WebSocket" } },
            { status: 426, headers: { upgrade: "websocket", connection: "Upgrade" } }
          )
        }
        // Joined before catching up, so nothing stored in between is missed; duplicates are skipped below.
        const joined = yield* hub.join(claims.userId, claims.familyId)
        const socket = yield* request.upgrade
        const write = yield* socket.writer
        // Running the socket performs the handshake (writes wait for it) and reads until the client leaves; clients
        // have nothing to say on this stream, so what they send is ignored.
        const reader = yield* socket.runRaw(() => Effect.void).pipe(Effect.forkScoped)
        const closeWith = (closing: Closing) => write(new Socket.CloseEvent(closing.code, closing.reason))
        if (Option.isNone(joined)) {
          yield* closeWith({ code: closeCodes.tooMany, reason: `too many open streams for this user (at most ${maxPerUser})` })
          yield* Fiber.join(reader).pipe(Effect.timeout("5 seconds"), Effect.ignore)
          return HttpServerResponse.empty()
        }
        const listener = joined.value
        // A client that stopped reading: past the bound, nothing more is written and the stream is closed.
        const send = (message: string) =>
          Effect.suspend(() =>
            bufferedBytes(request) > maxBufferedBytes
              ? hub.close(listener, closeCodes.tooSlow, "client too slow: reconnect with ?since=", "slow")
              : write(message)
          )
        const sent = new Set<string>()
        let counts: InboxCounts = yield* callNotifications(notifications.Counts({ userId: claims.userId })).pipe(
          Effect.orElseSucceed(() => ({ unread: 0, unseen: 0 }))
        )
        let unread = counts.unread
        yield* send(encodeMessage({ type: "ready", unreadCount: unread }))
        yield* send(encodeMessage({ type: "counts", ...counts }))
        // A `counts` frame goes out whenever either number differs from the last one this stream sent.
        const sendCounts = (next: Option.Option<InboxCounts>) =>
          Option.match(next, {
            onNone: () => Effect.void,
            onSome: (fresh) => {
              // Also when only the last notification frame's `unreadCount` (counted on) is off.
              const same = fresh.unread === counts.unread && fresh.unseen === counts.unseen && fresh.unread === unread
              unread = fresh.unread
              if (same) return Effect.void
              counts = fresh
              return send(encodeMessage({ type: "counts", ...fresh }))
            }
          })
        const since = urlParams.since
        if (since !== undefined && isNotificationId(since)) {
          const missed = yield* callNotifications(notifications.Since({ userId: claims.userId, after: since, limit: 500 })).pipe(
            Effect.orElseSucceed((): ReadonlyArray<Notification> => [])
          )
          for (const [index, notification] of missed.entries()) {
            sent.add(notification.id)
            yield* send(encodeMessage({ type: "notification", notification, unreadCount: unread - (missed.length - 1 - index) }))
          }
        }
        const pushes = Queue.take(listener.inbox).pipe(
          Effect.flatMap((push) => {
            if (push._tag === "counts") return sendCounts(push.counts)
            if (sent.delete(push.notification.id)) return Effect.void
            // A new notification is unread; the `counts` frame that follows says what is stored.
            unread += 1
            return send(encodeMessage({ type: "notification", notification: push.notification, unreadCount: unread }))
          }),
          Effect.forever
        )
        // Each heartbeat also checks the session, so a revoked one is closed within one interval even without pushes.
        const heartbeats = Effect.gen(function*() {
          if (yield* hub.revoked(claims.familyId)) return yield* hub.close(listener, closeCodes.unauthorized, "session revoked", "revoked")
          yield* send(encodeMessage({ type: "heartbeat", at: new Date(yield* Clock.currentTimeMillis) }))
        }).pipe(Effect.repeat(Schedule.spaced(heartbeat)))
        const expiry = Effect.sleep(Duration.seconds(Math.max(1, claims.expiresAt - Date.now() / 1000))).pipe(
          Effect.zipRight(hub.close(listener, closeCodes.unauthorized, "access token expired", "expired"))
        )
        const closing = yield* Fiber.join(reader).pipe(
          Effect.as(Option.none<Closing>()),
          Effect.raceFirst(Effect.zipRight(
            Effect.all([pushes, heartbeats, expiry], { concurrency: "unbounded", discard: true }),
            Effect.never
          )),
          Effect.raceFirst(Effect.map(Deferred.await(listener.closing), Option.some)),
          Effect.catchAll(() => Effect.succeed(Option.none<Closing>()))
        )
        if (Option.isSome(closing)) yield* closeWith(closing.value)
        return HttpServerResponse.empty()
      }).pipe(
        Effect.scoped,
        // The socket failed or closed under us: the connection is over, there is nobody to answer.
        Effect.catchTags({
          RequestError: () => Effect.succeed(HttpServerResponse.empty({ status: 400 })),
          SocketError: () => Effect.succeed(HttpServerResponse.empty())
        })
      ))
  }))
