import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { HeraldApi } from "@herald/domain/Api"
import { CurrentUser } from "@herald/domain/Auth"
import { Effect } from "effect"
import { callTasks, TasksClient } from "@herald/infra/ServiceClients"

export const ProjectsLive = HttpApiBuilder.group(HeraldApi, "projects", (handlers) =>
  Effect.map(TasksClient, (tasks) =>
    handlers
      .handle("create", ({ payload }) =>
        Effect.flatMap(CurrentUser, ({ userId }) => callTasks(tasks.CreateProject({ userId, project: payload }))))
      .handle("list", ({ urlParams }) =>
        Effect.flatMap(CurrentUser, ({ userId }) =>
          callTasks(tasks.ListProjects({ userId, limit: urlParams.limit, ...(urlParams.cursor ? { cursor: urlParams.cursor } : {}) }))))
      .handle("get", ({ path }) => Effect.flatMap(CurrentUser, ({ userId }) => callTasks(tasks.GetProject({ userId, projectId: path.id }))))
      .handle("update", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, ({ userId }) => callTasks(tasks.UpdateProject({ userId, projectId: path.id, patch: payload }))))
      .handle("delete", ({ path }) =>
        Effect.flatMap(CurrentUser, ({ userId }) => callTasks(tasks.DeleteProject({ userId, projectId: path.id }))))
      .handle("members", ({ path, urlParams }) =>
        Effect.flatMap(CurrentUser, ({ userId }) =>
          callTasks(tasks.ListMembers({
            userId,
            projectId: path.id,
            limit: urlParams.limit,
            ...(urlParams.cursor !== undefined ? { cursor: urlParams.cursor } : {})
          }))))
      .handle("addMember", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, ({ userId }) =>
          callTasks(tasks.AddMember({ userId, projectId: path.id, email: payload.email, role: payload.role }))))
      .handle("changeMember", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, ({ userId }) =>
          callTasks(tasks.ChangeMemberRole({ userId, projectId: path.id, memberId: path.userId, role: payload.role }))))
      .handle("removeMember", ({ path }) =>
        Effect.flatMap(CurrentUser, ({ userId }) => callTasks(tasks.RemoveMember({ userId, projectId: path.id, memberId: path.userId }))))
      .handle("transfer", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, ({ userId }) => callTasks(tasks.TransferProject({ userId, projectId: path.id, memberId: payload.userId }))))))
