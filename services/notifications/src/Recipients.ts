import type { DomainEvent, ProjectEvent, TaskAudience } from "@herald/domain/Events"
import type { ProjectId, UserId } from "@herald/domain/Ids"
import { Option } from "effect"
import type { MembershipDoc } from "./Memberships.ts"

/** One person to tell of an event, and the type of what they are told (`task.assigned` to the new assignee, say). */
export interface Recipient {
  readonly userId: UserId
  readonly type: string
}

/** Whether an event is about a project itself (its membership, name or deletion) rather than one of its tasks. */
export const isProjectEvent = (event: DomainEvent): event is ProjectEvent => projectOf(event) !== null && event.type.startsWith("project.")

/** The project an event belongs to, if any: its consumer mailbox and the membership that decides who hears of it. */
export const projectOf = (event: DomainEvent): ProjectId | null => {
  switch (event.type) {
    case "task.created":
    case "task.updated":
    case "task.deleted":
    case "task.watchers_changed":
    case "task.commented":
      return event.data.task.projectId
    case "project.member_added":
    case "project.member_removed":
    case "project.member_role_changed":
    case "project.ownership_transferred":
    case "project.updated":
    case "project.deleted":
      return event.data.projectId
    default:
      return null
  }
}

/**
 * Members who may hear of an event: the members at the event's version (`members`, as its writer read them), and, when
 * this service already knows a newer membership of the project, only those still in it (a member removed since then
 * hears nothing more, at once; one re-added meanwhile is not told of what happened while they were out).
 */
const eligible = (members: ReadonlyArray<UserId>, version: number | null, known: Option.Option<MembershipDoc>) => {
  const newer = Option.filter(known, (doc) => version !== null && doc.version > version)
  return Option.match(newer, {
    onNone: () => new Set(members),
    onSome: (doc) => new Set(members.filter((id) => doc.memberIds.includes(id)))
  })
}

const taskRecipients = (
  event: DomainEvent,
  audience: TaskAudience | undefined,
  concerned: ReadonlyArray<UserId>,
  known: Option.Option<MembershipDoc>,
  typeOf: (userId: UserId) => string
): ReadonlyArray<Recipient> => {
  if (audience === undefined) return []
  const members = eligible(audience.memberIds, audience.projectVersion, known)
  return [...new Set(concerned)]
    .filter((id) => id !== event.userId && members.has(id))
    .map((userId) => ({ userId, type: typeOf(userId) }))
}

/**
 * Who is told of an event: the task's watchers, its assignee and the people a comment mentions, or every member for
 * a project event; only members (see `eligible`), never the actor. Export outcomes go to the user who asked, a revoked
 * session to the account's owner.
 */
export const recipientsOf = (event: DomainEvent, known: Option.Option<MembershipDoc>): ReadonlyArray<Recipient> => {
  switch (event.type) {
    case "export.completed":
    case "export.failed":
      return [{ userId: event.userId, type: event.type }]
    case "export.requested":
    case "task.watchers_changed":
      return []
    case "task.created": {
      const { assigneeId } = event.data.task
      const concerned = [...(event.data.audience?.watchers ?? []), ...(assigneeId === null ? [] : [assigneeId])]
      return taskRecipients(event, event.data.audience, concerned, known, (id) => (id === assigneeId ? "task.assigned" : "task.created"))
    }
    case "task.updated": {
      const { assigneeId } = event.data.task
      const newlyAssigned = assigneeId !== null && assigneeId !== (event.data.previousAssigneeId ?? null) ? assigneeId : null
      const concerned = [...(event.data.audience?.watchers ?? []), ...(assigneeId === null ? [] : [assigneeId])]
      return taskRecipients(event, event.data.audience, concerned, known, (id) => (id === newlyAssigned ? "task.assigned" : "task.updated"))
    }
    case "task.deleted": {
      const { assigneeId } = event.data.task
      const concerned = [...(event.data.audience?.watchers ?? []), ...(assigneeId === null ? [] : [assigneeId])]
      return taskRecipients(event, event.data.audience, concerned, known, () => "task.deleted")
    }
    case "task.commented": {
      const { assigneeId } = event.data.task
      const mentioned = new Set(event.data.comment.mentions.flatMap((mention) => (mention.userId === null ? [] : [mention.userId])))
      const concerned = [...event.data.audience.watchers, ...(assigneeId === null ? [] : [assigneeId]), ...mentioned]
      return taskRecipients(event, event.data.audience, concerned, known, (id) => (mentioned.has(id) ? "task.mentioned" : "task.commented"))
    }
    case "project.member_added":
    case "project.member_removed":
    case "project.member_role_changed":
    case "project.ownership_transferred":
    case "project.updated":
    case "project.deleted": {
      const members = (event.data.members ?? []).map((member) => member.userId)
      // A deleted project has no newer membership: its members at the deletion are told.
      const allowed = event.type === "project.deleted" ? new Set(members) : eligible(members, event.aggregateVersion, known)
      return members.filter((id) => id !== event.userId && allowed.has(id)).map((userId) => ({ userId, type: event.type }))
    }
    case "security.session_revoked":
      // The account's owner, named by the envelope's user: nobody acted, so nobody is left out as the actor.
      return [{ userId: event.userId, type: event.type }]
  }
}

/**
 * Who is reminded of a task's due date (`type`): its watchers and assignee as its last event left them, members at that
 * event's version and still members now (see `eligible`). Nobody acts, so nobody is left out as the actor.
 */
export const reminderRecipients = (
  audience: TaskAudience,
  assigneeId: UserId | null,
  known: Option.Option<MembershipDoc>,
  type: string
): ReadonlyArray<Recipient> => {
  const members = eligible(audience.memberIds, audience.projectVersion, known)
  return [...new Set([...audience.watchers, ...(assigneeId === null ? [] : [assigneeId])])]
    .filter((id) => members.has(id))
    .map((userId) => ({ userId, type }))
}
