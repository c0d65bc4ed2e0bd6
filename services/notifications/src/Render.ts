import type { DomainEvent } from "@herald/domain/Events"
import type { ProjectRole } from "@herald/domain/Member"
import type { Recipient } from "./Recipients.ts"

/** How an event reads as a notification: its type, a title, a sentence, and the data a client links from. */
export interface Rendered {
  readonly type: string
  readonly title: string
  readonly body: string
  readonly data: Record<string, unknown>
}

const statusName = { todo: "to do", in_progress: "in progress", done: "done" } as const
const roleName: Record<ProjectRole, string> = { owner: "the owner", editor: "an editor", viewer: "a viewer" }

const actorOf = (event: DomainEvent) => ({ id: event.userId, name: event.actorName ?? "Someone" })

/** What `recipient` is told of `event`: who did what, in words, naming the actor. */
export const render = (event: DomainEvent, recipient: Recipient): Rendered => {
  const actor = actorOf(event)
  const who = actor.name
  const you = (userId: string, name: string) => (userId === recipient.userId ? "you" : name)
  switch (event.type) {
    case "task.created":
    case "task.updated":
    case "task.deleted": {
      const { task } = event.data
      const data = { actor, projectId: task.projectId, taskId: task.id, version: event.aggregateVersion }
      if (recipient.type === "task.assigned") {
        return { type: "task.assigned", title: "Assigned to you", body: `${who} assigned you '${task.title}'`, data }
      }
      if (event.type === "task.created") return { type: event.type, title: "New task", body: `${who} created '${task.title}'`, data }
      if (event.type === "task.deleted") return { type: event.type, title: "Task deleted", body: `${who} deleted '${task.title}'`, data }
      const { changes, previousStatus } = event.data
      const body = previousStatus !== task.status
        ? `${who} moved '${task.title}' to ${statusName[task.status]}`
        : changes.includes("assigneeId") && task.assigneeId === null
        ? `${who} unassigned '${task.title}'`
        : changes.length > 0
        ? `${who} changed the ${changes.filter((change) => change !== "assigneeId").join(", ") || "assignee"} of '${task.title}'`
        : `${who} saved '${task.title}' without changes`
      return {
        type: event.type,
        title: previousStatus !== task.status ? "Task moved" : "Task updated",
        body,
        data: { ...data, previousStatus, status: task.status, changes }
      }
    }
    case "task.commented": {
      const { comment, task } = event.data
      const data = { actor, projectId: task.projectId, taskId: task.id, commentId: comment.id }
      return recipient.type === "task.mentioned"
        ? { type: "task.mentioned", title: "Mentioned", body: `${who} mentioned you in a comment on '${task.title}'`, data }
        : { type: "task.commented", title: "New comment", body: `${who} commented on '${task.title}'`, data }
    }
    case "project.member_added": {
      const { member, name, projectId } = event.data
      return {
        type: event.type,
        title: "Project members",
        body: member.userId === recipient.userId ? `${who} added you to '${name}'` : `${who} added ${member.name} to '${name}'`,
        data: { actor, projectId, taskId: null, memberId: member.userId, role: member.role }
      }
    }
    case "project.member_removed": {
      const { member, name, projectId } = event.data
      return {
        type: event.type,
        title: "Project members",
        body: member.userId === event.userId ? `${member.name} left '${name}'` : `${who} removed ${member.name} from '${name}'`,
        data: { actor, projectId, taskId: null, memberId: member.userId }
      }
    }
    case "project.member_role_changed": {
      const { member, name, projectId } = event.data
      return {
        type: event.type,
        title: "Project members",
        body: `${who} made ${you(member.userId, member.name)} ${roleName[member.role]} of '${name}'`,
        data: { actor, projectId, taskId: null, memberId: member.userId, role: member.role, previousRole: event.data.previousRole }
      }
    }
    case "project.ownership_transferred": {
      const { member, name, projectId } = event.data
      return {
        type: event.type,
        title: "Project owner",
        body: `${who} made ${you(member.userId, member.name)} the owner of '${name}'`,
        data: { actor, projectId, taskId: null, memberId: member.userId }
      }
    }
    case "project.updated": {
      const { changes, name, previousName, projectId } = event.data
      return {
        type: event.type,
        title: "Project updated",
        body: changes.includes("name") ? `${who} renamed '${previousName}' to '${name}'` : `${who} changed the description of '${name}'`,
        data: { actor, projectId, taskId: null, changes }
      }
    }
    case "project.deleted":
      return {
        type: event.type,
        title: "Project deleted",
        body: `${who} deleted '${event.data.name}' and its tasks`,
        data: { actor, projectId: event.data.projectId, taskId: null }
      }
    case "task.watchers_changed":
      return {
        type: event.type,
        title: "Watchers changed",
        body: `${who} changed who watches '${event.data.task.title}'`,
        data: { actor, projectId: event.data.task.projectId, taskId: event.data.task.id, version: event.aggregateVersion }
      }
    case "export.requested":
      return {
        type: event.type,
        title: "Export requested",
        body: `Your ${event.data.format.toUpperCase()} export is being prepared.`,
        data: { actor: null, projectId: event.data.projectId, taskId: null, exportId: event.data.exportId }
      }
    case "export.completed":
      return {
        type: event.type,
        title: "Export ready",
        body: `Your ${event.data.format.toUpperCase()} export of ${event.data.taskCount} tasks is ready to download.`,
        data: {
          actor: null,
          projectId: null,
          taskId: null,
          exportId: event.data.exportId,
          format: event.data.format,
          taskCount: event.data.taskCount,
          downloadPath: event.data.downloadPath
        }
      }
    case "export.failed":
      return {
        type: event.type,
        title: "Export failed",
        body: `Your ${event.data.format.toUpperCase()} export failed: ${event.data.error}`,
        data: { actor: null, projectId: null, taskId: null, exportId: event.data.exportId, format: event.data.format, error: event.data.error }
      }
    case "security.session_revoked":
      return {
        type: event.type,
        title: "Session revoked",
        body: "Someone used an old refresh token of yours; every session of that login was signed out. If it was not you, change your password.",
        data: { actor: null, projectId: null, taskId: null, familyId: event.data.familyId, client: event.data.client }
      }
  }
}

/** What a due-date reminder is about: the task as its last event left it. */
export interface ReminderSubject {
  readonly kind: "due_soon" | "overdue"
  readonly taskId: string
  readonly title: string
  readonly projectId: string | null
  readonly dueDate: Date
}

const minute = 60_000
const hour = 60 * minute
const plural = (count: number, unit: string) => `${count} ${unit}${count === 1 ? "" : "s"}`

/** How long until `millis` from now, in words a person rounds to ("24 hours", "3 days", "5 minutes"). */
const inWords = (millis: number) =>
  millis >= 48 * hour
    ? plural(Math.round(millis / (24 * hour)), "day")
    : millis >= hour
    ? plural(Math.round(millis / hour), "hour")
    : millis >= minute
    ? plural(Math.round(millis / minute), "minute")
    : "less than a minute"

/** A due-date reminder in words, at `now`: nobody did it, so `actor` is null. */
export const renderReminder = (subject: ReminderSubject, now: number): Rendered => {
  const data = { actor: null, projectId: subject.projectId, taskId: subject.taskId, dueDate: subject.dueDate.toISOString() }
  return subject.kind === "due_soon"
    ? { type: "task.due_soon", title: "Due soon", body: `'${subject.title}' is due in ${inWords(subject.dueDate.getTime() - now)}`, data }
    : { type: "task.overdue", title: "Overdue", body: `'${subject.title}' is overdue`, data }
}
