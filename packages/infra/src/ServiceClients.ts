import { NotificationsRpc } from "@herald/domain/NotificationsRpc"
import { TasksRpc } from "@herald/domain/TasksRpc"
import { UsersRpc } from "@herald/domain/UsersRpc"
import * as Rpc from "./Rpc.ts"
import { Context, Effect, Layer, type Redacted } from "effect"
import { ServiceUrlsConfig } from "./InfraConfig.ts"

/**
 * Clients of the services' internal RPC: where the services listen (`USERS_URL`, `TASKS_URL`,
 * `NOTIFICATIONS_URL`), the shared secret, and one scoped client per service.
 */
export class ServiceUrls extends Context.Tag("Herald/ServiceUrls")<ServiceUrls, {
  readonly users: string
  readonly tasks: string
  readonly notifications: string
  readonly secret: Redacted.Redacted
}>() {
  static readonly fromConfig = Layer.effect(
    ServiceUrls,
    ServiceUrlsConfig
  )
}

export class UsersClient extends Effect.Service<UsersClient>()("Herald/UsersClient", {
  scoped: Effect.flatMap(ServiceUrls, (urls) => Rpc.client(UsersRpc, { url: urls.users, secret: urls.secret }))
}) {}

export class TasksClient extends Effect.Service<TasksClient>()("Herald/TasksClient", {
  scoped: Effect.flatMap(ServiceUrls, (urls) => Rpc.client(TasksRpc, { url: urls.tasks, secret: urls.secret }))
}) {}

export class NotificationsClient extends Effect.Service<NotificationsClient>()("Herald/NotificationsClient", {
  scoped: Effect.flatMap(ServiceUrls, (urls) => Rpc.client(NotificationsRpc, { url: urls.notifications, secret: urls.secret }))
}) {}

export const callUsers = Rpc.call("users")
export const callTasks = Rpc.call("tasks")
export const callNotifications = Rpc.call("notifications")
