import type { DomainEvent } from "@herald/domain/Events"

/** How an event reads as a notification: its type, a title, a sentence, and the data a client links from. */
export interface Rendered {
  readonly type: string
  readonly title: string
  readonly body: string
  readonly data: Record<string, unknown>
}

const statusName = { todo: "to do", in_progress: "in progress", done: "done" } as const

export const render = (event: DomainEvent): Rendered => {
  switch (event.type) {
    case "task.created":
      return {
        type: event.type,
        title: "Task created",
        body: `“${event.data.task.title}” was created.`,
        data: { taskId: event.data.task.id, projectId: event.data.task.projectId, version: event.aggregateVersion }
      }
    case "task.updated": {
      const { changes, previousStatus, task } = event.data
      const body = previousStatus !== task.status
        ? `“${task.title}” moved from ${statusName[previousStatus]} to ${statusName[task.status]}.`
        : changes.length > 0
        ? `“${task.title}” was updated (${changes.join(", ")}).`
        : `“${task.title}” was saved without changes.`
      return {
        type: event.type,
        title: "Task updated",
        body,
        data: {
          taskId: task.id,
          projectId: task.projectId,
          previousStatus,
          status: task.status,
          changes,
          version: event.aggregateVersion
        }
      }
    }
    case "task.deleted":
      return {
        type: event.type,
        title: "Task deleted",
        body: `“${event.data.task.title}” was deleted.`,
        data: { taskId: event.data.task.id, projectId: event.data.task.projectId }
      }
    case "project.deleted":
      return {
        type: event.type,
        title: "Project deleted",
        body: `Project “${event.data.name}” and its tasks were deleted.`,
        data: { projectId: event.data.projectId }
      }
    case "export.requested":
      return {
        type: event.type,
        title: "Export requested",
        body: `Your ${event.data.format.toUpperCase()} export is being prepared.`,
        data: { exportId: event.data.exportId }
      }
    case "export.completed":
      return {
        type: event.type,
        title: "Export ready",
        body: `Your ${event.data.format.toUpperCase()} export of ${event.data.taskCount} tasks is ready to download.`,
        data: { exportId: event.data.exportId, format: event.data.format, taskCount: event.data.taskCount, downloadPath: event.data.downloadPath }
      }
    case "export.failed":
      return {
        type: event.type,
        title: "Export failed",
        body: `Your ${event.data.format.toUpperCase()} export failed: ${event.data.error}`,
        data: { exportId: event.data.exportId, format: event.data.format, error: event.data.error }
      }
  }
}
