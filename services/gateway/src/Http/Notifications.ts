import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { HeraldApi } from "@herald/domain/Api"
import { CurrentUser } from "@herald/domain/Auth"
import type { NotificationListQuery } from "@herald/domain/Notification"
import type { BulkChange, InboxChange } from "@herald/domain/NotificationsRpc"
import type { ProjectId } from "@herald/domain/Ids"
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
          ...(urlParams.archived !== undefined ? { archived: urlParams.archived } : {}),
          ...(urlParams.type !== undefined ? { type: urlParams.type } : {}),
          ...(urlParams.projectId !== undefined ? { projectId: urlParams.projectId } : {}),
          ...(urlParams.cursor !== undefined ? { cursor: urlParams.cursor } : {})
        })))
    const changeOne = (change: InboxChange) => ({ path }: { readonly path: { readonly id: string } }) =>
      Effect.flatMap(CurrentUser, ({ userId }) => callNotifications(notifications.Change({ userId, notificationId: path.id, change })))
    const changeAll = (change: BulkChange) => ({ urlParams }: { readonly urlParams: { readonly projectId?: ProjectId | undefined } }) =>
      Effect.flatMap(CurrentUser, ({ userId }) =>
        callNotifications(notifications.ChangeAll({
          userId,
          change,
          ...(urlParams.projectId !== undefined ? { projectId: urlParams.projectId } : {})
        })))
    return handlers
      .handle("list", list)
      .handle("getAll", list)
      .handle("latest", ({ urlParams }) =>
        Effect.flatMap(CurrentUser, ({ userId }) =>
          Effect.map(callNotifications(notifications.List({ userId, limit: urlParams.limit })), (page) => ({ items: page.items }))))
      .handle("unreadCount", () =>
        Effect.flatMap(CurrentUser, ({ userId }) =>
          Effect.map(callNotifications(notifications.Counts({ userId })), (counts) => ({ ...counts, count: counts.unread }))))
      .handle("markRead", changeOne("read"))
      .handle("markUnread", changeOne("unread"))
      .handle("archive", changeOne("archive"))
      .handle("unarchive", changeOne("unarchive"))
      .handle("delete", ({ path }) =>
        Effect.flatMap(CurrentUser, ({ userId }) => callNotifications(notifications.Delete({ userId, notificationId: path.id }))))
      .handle("readAll", changeAll("read"))
      .handle("seenAll", changeAll("seen"))
      .handle("archiveAll", changeAll("archive"))
  }))
