import { NotificationsRpc } from "@herald/domain/NotificationsRpc"
import { ServiceReadiness } from "@herald/infra/Server"
import { Effect } from "effect"
import { Exports } from "./Exports.ts"
import { NotificationRepo } from "./NotificationRepo.ts"

/** The notifications service's RPC handlers: the contract of `NotificationsRpc`. */
export const NotificationsHandlers = NotificationsRpc.toLayer(
  Effect.gen(function*() {
    const notifications = yield* NotificationRepo
    const exports = yield* Exports
    const readiness = yield* ServiceReadiness
    return {
      List: ({ cursor, limit, unread, userId }) => notifications.list(userId, { unread, limit, cursor }),
      Since: ({ after, limit, userId }) => notifications.since(userId, after, limit),
      UnreadCount: ({ userId }) => notifications.unreadCount(userId),
      MarkRead: ({ notificationId, userId }) => notifications.markRead(userId, notificationId),
      MarkAllRead: ({ userId }) => notifications.markAllRead(userId),
      CreateExport: ({ format, projectId, userId }) => exports.create(userId, format, projectId),
      GetExport: ({ exportId, userId }) => exports.get(userId, exportId),
      DownloadExport: ({ exportId, userId }) => exports.download(userId, exportId),
      Ready: () => readiness
    }
  })
)
