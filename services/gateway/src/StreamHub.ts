import type { UserId } from "@herald/domain/Ids"
import { type InboxCounts, type Notification, RealtimeMessage } from "@herald/domain/Notification"
import { VersionedCache } from "@herald/infra/Cache"
import { RealtimeBus, userChannel } from "@herald/infra/Realtime"
import { isRevoked } from "@herald/infra/Revocations"
import { callNotifications, NotificationsClient } from "@herald/infra/ServiceClients"
import { Chunk, Deferred, Effect, Metric, Option, Queue, RcMap, Schema, type Scope, Stream } from "effect"

import { StreamConfig } from "./GatewayConfig.ts"

/** Why the gateway ends a stream: close codes of the application range, each with a reason a person can read. */
export const closeCodes = { unauthorized: 4401, tooSlow: 4408, tooMany: 4429 } as const

/**
 * What one stream is to send: a new notification (at once), or the user's counts after a change, looked up once per
 * message for all of the user's streams (`None` when the lookup failed).
 */
export type Push =
  | { readonly _tag: "notification"; readonly notification: Notification }
  | { readonly _tag: "counts"; readonly counts: Option.Option<InboxCounts> }

/** How and why a stream is to be closed. */
export interface Closing {
  readonly code: number
  readonly reason: string
}

/** One open stream as the hub sees it: its session, what waits to be written, and the close it is asked for. */
export interface Listener {
  readonly familyId: string
  readonly inbox: Queue.Dequeue<Push>
  readonly closing: Deferred.Deferred<Closing>
}

interface Entry extends Listener {
  readonly inbox: Queue.Queue<Push>
}

/**
 * Pushes a stream may have waiting before it counts as too slow and is closed (it then catches up with `?since=`):
 * 256 notifications, each followed by its counts.
 */
const inboxSize = 512

/** What the notifications service publishes: a notification, or word of an inbox change; the counts are added here. */
const decodePush = Schema.decodeUnknownOption(Schema.parseJson(RealtimeMessage))

/** Users whose counts one `CountsOf` call may ask for (the RPC's own bound is 1,000). */
const countsBatch = 500

/** Counts lookups under way at once: each takes whatever was asked for while the others were out. */
const countsLookups = 2

interface CountsWanted {
  readonly userId: UserId
  readonly counts: Deferred.Deferred<Option.Option<InboxCounts>>
}

const unreadLookups = Metric.counter("herald_stream_unread_lookups_total", {
  description: "Inbox-count lookups made for real-time pushes (one per push per user, whatever their open streams)"
})
const closedStreams = (reason: string) =>
  Metric.counter("herald_stream_closed_total", { description: "Streams the gateway closed, by reason" }).pipe(
    Metric.tagged("reason", reason)
  )

/**
 * The real-time streams of this gateway, grouped by user: one bus subscription per user with open streams, one
 * unread-count lookup and one revocation check per session for each push, at most `STREAM_MAX_PER_USER` streams
 * per user on this gateway, and a bounded inbox per stream.
 */
export class StreamHub extends Effect.Service<StreamHub>()("Herald/StreamHub", {
  scoped: Effect.gen(function*() {
    const bus = yield* RealtimeBus
    const notifications = yield* NotificationsClient
    const cache = yield* VersionedCache
    const config = yield* StreamConfig

    /** Redis being down does not close streams, as it does not refuse requests (see `authenticate`). */
    const revoked = (familyId: string) => isRevoked(cache, familyId, "150 millis").pipe(Effect.orElseSucceed(() => false))

    const close = (listener: Listener, code: number, reason: string, metric: string) =>
      Effect.flatMap(Deferred.succeed(listener.closing, { code, reason }), (first) =>
        first ? Metric.increment(closedStreams(metric)) : Effect.void)

    // The pushes of one moment (an event told to many users) share their counts lookups: one RPC and two queries for a
    // batch instead of one RPC and two queries per user. Request batching in Effect only groups requests of one fiber.
    const wanted = yield* Queue.unbounded<CountsWanted>()
    const lookUpBatch = Effect.gen(function*() {
      const batch = Chunk.toReadonlyArray(yield* Queue.takeBetween(wanted, 1, countsBatch))
      const userIds = [...new Set(batch.map((want) => want.userId))]
      const found = yield* callNotifications(notifications.CountsOf({ userIds })).pipe(
        Effect.map((all) => new Map(all.map(({ userId, ...counts }) => [userId, counts]))),
        Effect.option
      )
      for (const want of batch) {
        yield* Deferred.succeed(want.counts, Option.flatMap(found, (byUser) => Option.fromNullable(byUser.get(want.userId))))
      }
    })
    yield* Effect.forkScoped(Effect.forever(lookUpBatch).pipe(Effect.replicateEffect(countsLookups, { concurrency: "unbounded" })))
    const countsOf = (userId: UserId) =>
      Effect.flatMap(Deferred.make<Option.Option<InboxCounts>>(), (counts) =>
        Effect.zipRight(Queue.offer(wanted, { userId, counts }), Deferred.await(counts)))

    const offer = (entries: Set<Entry>, push: Push) =>
      Effect.forEach(entries, (entry) =>
        Queue.unsafeOffer(entry.inbox, push) ? Effect.void : close(entry, closeCodes.tooSlow, "client too slow: reconnect with ?since=", "slow"), {
        discard: true
      })

    // A notification goes out before its counts are looked up: on a shared database the lookup is the slow part.
    const deliver = (userId: UserId, entries: Set<Entry>, message: RealtimeMessage) =>
      Effect.gen(function*() {
        if (entries.size === 0) return
        const families = new Set([...entries].map((entry) => entry.familyId))
        const ended = new Set(yield* Effect.filter(families, revoked, { concurrency: "unbounded" }))
        for (const entry of entries) {
          if (ended.has(entry.familyId)) yield* close(entry, closeCodes.unauthorized, "session revoked", "revoked")
        }
        const open = new Set([...entries].filter((entry) => !ended.has(entry.familyId)))
        if (open.size === 0) return
        if (message.type === "notification") yield* offer(open, { _tag: "notification", notification: message.notification })
        yield* Metric.increment(unreadLookups)
        yield* offer(open, { _tag: "counts", counts: yield* countsOf(userId) })
      })

    const users = yield* RcMap.make({
      lookup: (userId: UserId) =>
        Effect.gen(function*() {
          const entries = new Set<Entry>()
          // Awaited here, so a stream that joins listens before it catches up: nothing stored in between is missed.
          const live = yield* bus.subscribe(userChannel(userId))
          yield* live.pipe(
            Stream.filterMap(decodePush),
            Stream.runForEach((message) =>
              deliver(userId, entries, message).pipe(
                // One push going wrong must not end the user's feed.
                Effect.catchAllCause((cause) => Effect.logError("real-time push failed", cause))
              )),
            Effect.forkScoped
          )
          return entries
        })
    })

    return {
      config,
      revoked,
      /**
       * Registers a stream of `userId` for the current scope; `None` when the user already has `maxPerUser` open
       * here. The caller closes its socket as `closing` says once that is completed.
       */
      join: (userId: UserId, familyId: string): Effect.Effect<Option.Option<Listener>, never, Scope.Scope> =>
        Effect.gen(function*() {
          const entries = yield* RcMap.get(users, userId)
          if (entries.size >= config.maxPerUser) {
            yield* Metric.increment(closedStreams("too_many"))
            return Option.none()
          }
          const entry: Entry = {
            familyId,
            inbox: yield* Effect.acquireRelease(Queue.dropping<Push>(inboxSize), Queue.shutdown),
            closing: yield* Deferred.make<Closing>()
          }
          yield* Effect.acquireRelease(Effect.sync(() => entries.add(entry)), () => Effect.sync(() => entries.delete(entry)))
          return Option.some<Listener>(entry)
        }),
      /** Asks a stream to close (an expired token, a revoked session, a client that stopped reading). */
      close
    }
  })
}) {}
