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
      ListMembers: ({ cursor, limit, projectId, userId }) => tasks.listMembers(userId, projectId, limit, cursor),
      AddMember: ({ email, projectId, role, userId }) => tasks.addMember(userId, projectId, email, role),
      ChangeMemberRole: ({ memberId, projectId, role, userId }) => tasks.changeMemberRole(userId, projectId, memberId, role),
      RemoveMember: ({ memberId, projectId, userId }) => tasks.removeMember(userId, projectId, memberId),
      TransferProject: ({ memberId, projectId, userId }) => tasks.transferProject(userId, projectId, memberId),
      CreateTask: ({ requestKey, task, userId }) => tasks.createTask(userId, task, requestKey),
      ListTasks: ({ query, userId }) => tasks.listTasks(userId, query),
      GetTask: ({ taskId, userId }) => tasks.getTask(userId, taskId),
      ReplaceTask: ({ ifMatch, task, taskId, userId }) => tasks.replaceTask(userId, taskId, task, ifMatch),
      PatchTask: ({ ifMatch, patch, taskId, userId }) => tasks.patchTask(userId, taskId, patch, ifMatch),
      DeleteTask: ({ ifMatch, taskId, userId }) => tasks.deleteTask(userId, taskId, ifMatch),
      WatchTask: ({ taskId, userId, watching }) => tasks.watchTask(userId, taskId, watching),
      CreateComment: ({ comment, taskId, userId }) => tasks.createComment(userId, taskId, comment),
      ListComments: ({ cursor, limit, taskId, userId }) => tasks.listComments(userId, taskId, limit, cursor),
      UpdateComment: ({ comment, commentId, userId }) => tasks.updateComment(userId, commentId, comment),
      DeleteComment: ({ commentId, userId }) => tasks.deleteComment(userId, commentId),
      ExportPage: ({ after, limit, projectId, userId }) => tasks.exportPage(userId, projectId, after, limit),
      Ready: () => readiness
    }
  })
)
