import type { UserId } from "@herald/domain/Ids"
import { RealtimeMessage } from "@herald/domain/Notification"
import type { BulkChange, InboxChange } from "@herald/domain/NotificationsRpc"
import type { ProjectId } from "@herald/domain/Ids"
import { RealtimeBus, userChannel } from "@herald/infra/Realtime"
import { Effect, Schema } from "effect"
import { type ListOptions, NotificationRepo } from "./NotificationRepo.ts"

const encodeMessage = Schema.encodeSync(Schema.parseJson(RealtimeMessage))

/**
 * A user's inbox: its notifications' states, and word to every gateway (on the user's real-time channel) after each
 * change that may move the user's counts, so that all of their open streams get the new `counts`.
 */
export class Inbox extends Effect.Service<Inbox>()("Herald/Inbox", {
  effect: Effect.gen(function*() {
    const repo = yield* NotificationRepo
    const bus = yield* RealtimeBus
    // At most once, like every real-time message: a stream that missed it gets the counts on reconnect.
    const changed = (userId: UserId) =>
      bus.publish(userChannel(userId), encodeMessage({ type: "inbox_changed" })).pipe(
        Effect.catchAll((error) => Effect.logWarning("inbox counts push failed", error))
      )
    return {
      list: (userId: UserId, options: ListOptions) => repo.list(userId, options),
      counts: (userId: UserId) => repo.counts(userId),
      countsOf: (userIds: ReadonlyArray<UserId>) => repo.countsOf(userIds),
      change: (userId: UserId, id: string, change: InboxChange) => Effect.zipRight(repo.change(userId, id, change), changed(userId)),
      remove: (userId: UserId, id: string) => Effect.zipRight(repo.remove(userId, id), changed(userId)),
      changeAll: (userId: UserId, change: BulkChange, projectId?: ProjectId) =>
        Effect.flatMap(repo.changeAll(userId, change, projectId), (matched) => matched > 0 ? changed(userId) : Effect.void)
    }
  })
}) {}
