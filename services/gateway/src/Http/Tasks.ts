import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { HeraldApi } from "@herald/domain/Api"
import { CurrentUser } from "@herald/domain/Auth"
import { type CreateTaskRequest, parseIfMatch } from "@herald/domain/Task"
import { Effect } from "effect"
import type { IdempotencyHeaders } from "@herald/domain/Idempotency"
import { callTasks, TasksClient } from "@herald/infra/ServiceClients"
import { keyDigest } from "../IdempotentCreates.ts"

const ifMatch = (headers: { readonly "if-match"?: string | undefined }) => {
  const version = parseIfMatch(headers["if-match"])
  return version === undefined ? {} : { ifMatch: version }
}

export const TasksLive = HttpApiBuilder.group(HeraldApi, "tasks", (handlers) =>
  Effect.map(TasksClient, (tasks) => {
    const create = ({ headers, payload }: { readonly headers: typeof IdempotencyHeaders.Type; readonly payload: CreateTaskRequest }) =>
      Effect.flatMap(CurrentUser, ({ userId }) => {
        const key = headers["idempotency-key"]
        return callTasks(tasks.CreateTask({ userId, task: payload, ...(key === undefined ? {} : { requestKey: keyDigest(key) }) }))
      })
    return handlers
      .handle("create", create)
      .handle("upload", create)
      .handle("list", ({ urlParams }) => Effect.flatMap(CurrentUser, ({ userId }) => callTasks(tasks.ListTasks({ userId, query: urlParams }))))
      .handle("get", ({ path }) => Effect.flatMap(CurrentUser, ({ userId }) => callTasks(tasks.GetTask({ userId, taskId: path.id }))))
      .handle("replace", ({ headers, path, payload }) =>
        Effect.flatMap(CurrentUser, ({ userId }) =>
          callTasks(tasks.ReplaceTask({ userId, taskId: path.id, task: payload, ...ifMatch(headers) }))))
      .handle("patch", ({ headers, path, payload }) =>
        Effect.flatMap(CurrentUser, ({ userId }) =>
          callTasks(tasks.PatchTask({ userId, taskId: path.id, patch: payload, ...ifMatch(headers) }))))
      .handle("delete", ({ headers, path }) =>
        Effect.flatMap(CurrentUser, ({ userId }) => callTasks(tasks.DeleteTask({ userId, taskId: path.id, ...ifMatch(headers) }))))
      .handle("watch", ({ path }) =>
        Effect.flatMap(CurrentUser, ({ userId }) => callTasks(tasks.WatchTask({ userId, taskId: path.id, watching: true }))))
      .handle("unwatch", ({ path }) =>
        Effect.flatMap(CurrentUser, ({ userId }) => callTasks(tasks.WatchTask({ userId, taskId: path.id, watching: false }))))
      .handle("comment", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, ({ userId }) => callTasks(tasks.CreateComment({ userId, taskId: path.id, comment: payload }))))
      .handle("comments", ({ path, urlParams }) =>
        Effect.flatMap(CurrentUser, ({ userId }) =>
          callTasks(tasks.ListComments({
            userId,
            taskId: path.id,
            limit: urlParams.limit,
            ...(urlParams.cursor !== undefined ? { cursor: urlParams.cursor } : {})
          }))))
  }))

export const CommentsLive = HttpApiBuilder.group(HeraldApi, "comments", (handlers) =>
  Effect.map(TasksClient, (tasks) =>
    handlers
      .handle("update", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, ({ userId }) => callTasks(tasks.UpdateComment({ userId, commentId: path.id, comment: payload }))))
      .handle("delete", ({ path }) =>
        Effect.flatMap(CurrentUser, ({ userId }) => callTasks(tasks.DeleteComment({ userId, commentId: path.id }))))))
