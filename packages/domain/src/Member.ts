import { Schema } from "effect"
import { Cursor, IsoDateTime, Limit } from "./Common.ts"
import { PathId, UserId } from "./Ids.ts"
import { Email } from "./User.ts"

/** A member's role: the owner (one) manages members, editors change tasks, viewers read and comment. */
export const ProjectRole = Schema.Literal("owner", "editor", "viewer")
export type ProjectRole = typeof ProjectRole.Type

/** What a role may do, by rank: each role may do what the roles below it may. */
export const roleRank: Record<ProjectRole, number> = { viewer: 1, editor: 2, owner: 3 }

/** A role given by adding or changing a member; ownership changes hands only by a transfer. */
export const MemberRole = Schema.Literal("editor", "viewer")
export type MemberRole = typeof MemberRole.Type

export class Member extends Schema.Class<Member>("Member")({
  userId: UserId,
  name: Schema.String,
  email: Schema.String,
  role: ProjectRole,
  addedAt: IsoDateTime
}) {}

export const AddMemberRequest = Schema.Struct({
  email: Email,
  role: MemberRole
})
export type AddMemberRequest = typeof AddMemberRequest.Type

export const ChangeRoleRequest = Schema.Struct({ role: MemberRole })

export const TransferRequest = Schema.Struct({
  userId: PathId.annotations({ description: "The member who becomes the owner; the current owner becomes an editor" })
})

export const MemberListQuery = Schema.Struct({
  limit: Schema.optionalWith(Limit, { default: () => 20 }),
  cursor: Schema.optional(Cursor)
})

/** A member as events carry it: who, with which role, and the name they had then (for the words of a notification). */
export const MemberRef = Schema.Struct({ userId: UserId, role: ProjectRole, name: Schema.String })
export type MemberRef = typeof MemberRef.Type

/** Every member of a project after a change: what the notifications service keeps of the project. */
export const MemberRoles = Schema.Array(Schema.Struct({ userId: UserId, role: ProjectRole }))
export type MemberRoles = typeof MemberRoles.Type
