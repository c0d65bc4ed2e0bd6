import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { HeraldApi } from "@herald/domain/Api"
import { CurrentUser } from "@herald/domain/Auth"
import { ExportNotReady } from "@herald/domain/Errors"
import { Effect, Stream } from "effect"
import { callNotifications, callTasks, NotificationsClient, TasksClient } from "@herald/infra/ServiceClients"

const encoder = new TextEncoder()

export const ExportsLive = HttpApiBuilder.group(HeraldApi, "exports", (handlers) =>
  Effect.gen(function*() {
    const notifications = yield* NotificationsClient
    const tasks = yield* TasksClient
    return handlers
      .handle("create", ({ payload }) =>
        Effect.gen(function*() {
          const { userId } = yield* CurrentUser
          // The project must be the caller's (404 otherwise) before a job is queued for it.
          const project = payload.projectId === undefined
            ? null
            : (yield* callTasks(tasks.GetProject({ userId, projectId: payload.projectId }))).id
          const created = yield* callNotifications(notifications.CreateExport({ userId, format: payload.format, projectId: project }))
          return { id: created.id, status: "pending" as const }
        }))
      .handle("get", ({ path }) =>
        Effect.flatMap(CurrentUser, ({ userId }) => callNotifications(notifications.GetExport({ userId, exportId: path.id }))))
      .handle("download", ({ path }) =>
        Effect.gen(function*() {
          const { userId } = yield* CurrentUser
          const found = yield* callNotifications(notifications.GetExport({ userId, exportId: path.id }))
          if (found.status !== "completed") {
            return yield* Effect.fail(
              new ExportNotReady({ message: `export is ${found.status}, not completed`, details: { status: found.status } })
            )
          }
          const body = notifications.DownloadExport({ userId, exportId: found.id }).pipe(Stream.map((chunk) => encoder.encode(chunk)))
          return HttpServerResponse.stream(body, {
            contentType: found.format === "csv" ? "text/csv; charset=utf-8" : "application/json; charset=utf-8",
            headers: { "content-disposition": `attachment; filename="herald-export-${found.id}.${found.format}"` }
          })
        }))
  }))
