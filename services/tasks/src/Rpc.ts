import { TasksRpc } from "@herald/domain/TasksRpc"
import { ServiceReadiness } from "@herald/infra/Server"
import { Effect } from "effect"
import { Tasks } from "./Tasks.ts"

/** The tasks service's RPC handlers: the contract of `TasksRpc`, served by `Tasks`. */
export const TasksHandlers = TasksRpc.toLayer(
  Effect.gen(function*() {
    const tasks = yield* Tasks
    const readiness = yield* ServiceReadiness
    return {
      CreateProject: ({ project, userId }) => tasks.createProject(userId, project),
      ListProjects: ({ cursor, limit, userId }) => tasks.listProjects(userId, limit, cursor),
      GetProject: ({ projectId, userId }) => tasks.getProject(userId, projectId),
      UpdateProject: ({ patch, projectId, userId }) => tasks.updateProject(userId, projectId, patch),
      DeleteProject: ({ projectId, userId }) => tasks.deleteProject(userId, projectId),
      CreateTask: ({ task, userId }) => tasks.createTask(userId, task),
      ListTasks: ({ query, userId }) => tasks.listTasks(userId, query),
      GetTask: ({ taskId, userId }) => tasks.getTask(userId, taskId),
      ReplaceTask: ({ ifMatch, task, taskId, userId }) => tasks.replaceTask(userId, taskId, task, ifMatch),
      PatchTask: ({ ifMatch, patch, taskId, userId }) => tasks.patchTask(userId, taskId, patch, ifMatch),
      DeleteTask: ({ ifMatch, taskId, userId }) => tasks.deleteTask(userId, taskId, ifMatch),
      ExportPage: ({ after, limit, projectId, userId }) => tasks.exportPage(userId, projectId, after, limit),
      Ready: () => readiness
    }
  })
)
