import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { HeraldApi } from "@herald/domain/Api"
import { CurrentUser } from "@herald/domain/Auth"
import type { NotificationListQuery } from "@herald/domain/Notification"
import { Effect } from "effect"
import { callNotifications, NotificationsClient } from "@herald/infra/ServiceClients"

export const NotificationsLive = HttpApiBuilder.group(HeraldApi, "notifications", (handlers) =>
  Effect.map(NotificationsClient, (notifications) => {
    const list = ({ urlParams }: { readonly urlParams: NotificationListQuery }) =>
      Effect.flatMap(CurrentUser, ({ userId }) =>
        callNotifications(notifications.List({
          userId,
          limit: urlParams.limit,
          ...(urlParams.unread !== undefined ? { unread: urlParams.unread } : {}),
          ...(urlParams.cursor !== undefined ? { cursor: urlParams.cursor } : {})
        })))
    return handlers
      .handle("list", list)
      .handle("getAll", list)
      .handle("latest", ({ urlParams }) =>
        Effect.flatMap(CurrentUser, ({ userId }) =>
          Effect.map(callNotifications(notifications.List({ userId, limit: urlParams.limit })), (page) => ({ items: page.items }))))
      .handle("unreadCount", () =>
        Effect.flatMap(CurrentUser, ({ userId }) =>
          Effect.map(callNotifications(notifications.UnreadCount({ userId })), (count) => ({ count }))))
      .handle("markRead", ({ path }) =>
        Effect.flatMap(CurrentUser, ({ userId }) => callNotifications(notifications.MarkRead({ userId, notificationId: path.id }))))
      .handle("readAll", () => Effect.flatMap(CurrentUser, ({ userId }) => callNotifications(notifications.MarkAllRead({ userId }))))
  }))
