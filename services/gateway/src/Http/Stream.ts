import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Socket from "@effect/platform/Socket"
import { HeraldApi } from "@herald/domain/Api"
import { Unauthorized } from "@herald/domain/Errors"
import { NotificationId } from "@herald/domain/Ids"
import { Notification, StreamMessage } from "@herald/domain/Notification"
import type { VersionedCache } from "@herald/infra/Cache"
import type { TokenVerifier } from "@herald/infra/Jwt"
import { RealtimeBus, userChannel } from "@herald/infra/Realtime"
import { Clock, Config, Duration, Effect, Fiber, Option, Schedule, Schema, Stream } from "effect"
import { authenticate } from "../Authentication.ts"
import { callNotifications, NotificationsClient } from "@herald/infra/ServiceClients"

export const StreamConfig = Config.duration("STREAM_HEARTBEAT").pipe(Config.withDefault(Duration.seconds(25)))

const encodeMessage = Schema.encodeSync(Schema.parseJson(StreamMessage))
/** What the notifications service publishes: the notification; the unread count is added here, per listener. */
const decodePush = Schema.decodeUnknownOption(
  Schema.parseJson(Schema.Struct({ type: Schema.Literal("notification"), notification: Notification }))
)
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

export const StreamLive = HttpApiBuilder.group(HeraldApi, "stream", (handlers) =>
  Effect.gen(function*() {
    const notifications = yield* NotificationsClient
    const bus = yield* RealtimeBus
    const context = yield* Effect.context<TokenVerifier | VersionedCache>()
    const heartbeatEvery = yield* StreamConfig
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
        // Listen before catching up, so nothing stored in between is missed; duplicates are skipped below.
        const live = yield* bus.subscribe(userChannel(claims.userId))
        const socket = yield* request.upgrade
        const write = yield* socket.writer
        // Running the socket performs the handshake (writes wait for it) and reads until the client leaves; clients
        // have nothing to say on this stream, so what they send is ignored.
        const reader = yield* socket.runRaw(() => Effect.void).pipe(Effect.forkScoped)
        const sent = new Set<string>()
        const unread = yield* callNotifications(notifications.UnreadCount({ userId: claims.userId })).pipe(
          Effect.orElseSucceed(() => 0)
        )
        yield* write(encodeMessage({ type: "ready", unreadCount: unread }))
        const since = urlParams.since
        if (since !== undefined && isNotificationId(since)) {
          const missed = yield* callNotifications(notifications.Since({ userId: claims.userId, after: since, limit: 500 })).pipe(
            Effect.orElseSucceed((): ReadonlyArray<Notification> => [])
          )
          for (const [index, notification] of missed.entries()) {
            sent.add(notification.id)
            yield* write(encodeMessage({ type: "notification", notification, unreadCount: unread - (missed.length - 1 - index) }))
          }
        }
        const unreadNow = callNotifications(notifications.UnreadCount({ userId: claims.userId })).pipe(Effect.option)
        const pushes = live.pipe(
          Stream.filterMap(decodePush),
          Stream.filter(({ notification }) => !sent.delete(notification.id)),
          Stream.mapEffect(({ notification }) =>
            Effect.map(unreadNow, (count) =>
              encodeMessage({ type: "notification", notification, unreadCount: Option.getOrElse(count, () => unread) }))),
          Stream.runForEach(write)
        )
        const heartbeats = Clock.currentTimeMillis.pipe(
          Effect.flatMap((now) => write(encodeMessage({ type: "heartbeat", at: new Date(now) }))),
          Effect.repeat(Schedule.spaced(heartbeatEvery))
        )
        const expiry = Effect.sleep(Duration.seconds(Math.max(1, claims.expiresAt - Date.now() / 1000))).pipe(
          Effect.zipRight(write(new Socket.CloseEvent(4401, "access token expired")))
        )
        yield* Fiber.join(reader).pipe(
          Effect.raceFirst(Effect.zipRight(Effect.raceFirst(pushes, heartbeats), Effect.never)),
          Effect.raceFirst(expiry),
          Effect.catchAll(() => Effect.void)
        )
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

