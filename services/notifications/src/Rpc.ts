import { NotificationsRpc } from "@herald/domain/NotificationsRpc"
import { ServiceReadiness } from "@herald/infra/Server"
import { Effect } from "effect"
import { Exports } from "./Exports.ts"
import { Inbox } from "./Inbox.ts"
import { NotificationRepo } from "./NotificationRepo.ts"

/** The notifications service's RPC handlers: the contract of `NotificationsRpc`. */
export const NotificationsHandlers = NotificationsRpc.toLayer(
  Effect.gen(function*() {
    const notifications = yield* NotificationRepo
    const inbox = yield* Inbox
    const exports = yield* Exports
    const readiness = yield* ServiceReadiness
    return {
      List: ({ userId, ...options }) => inbox.list(userId, options),
      Since: ({ after, limit, userId }) => notifications.since(userId, after, limit),
      Counts: ({ userId }) => inbox.counts(userId),
      CountsOf: ({ userIds }) => inbox.countsOf(userIds),
      Change: ({ change, notificationId, userId }) => inbox.change(userId, notificationId, change),
      Delete: ({ notificationId, userId }) => inbox.remove(userId, notificationId),
      ChangeAll: ({ change, projectId, userId }) => inbox.changeAll(userId, change, projectId),
      CreateExport: ({ format, projectId, userId }) => exports.create(userId, format, projectId),
      GetExport: ({ exportId, userId }) => exports.get(userId, exportId),
      DownloadExport: ({ exportId, userId }) => exports.download(userId, exportId),
      Ready: () => readiness
    }
  })
)
