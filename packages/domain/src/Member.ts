import { Schema } from "effect"
import { cursorParam, IsoDateTime, limitParam } from "./Common.ts"
import { exampleId, PathId, UserId } from "./Ids.ts"
import { Email } from "./User.ts"

/** A member's role: the owner (one) manages members, editors change tasks, viewers read and comment. */
export const ProjectRole = Schema.Literal("owner", "editor", "viewer").annotations({
  description: "owner: manages members and deletes the project; editor: changes tasks; viewer: reads and comments"
})
export type ProjectRole = typeof ProjectRole.Type

/** What a role may do, by rank: each role may do what the roles below it may. */
export const roleRank: Record<ProjectRole, number> = { viewer: 1, editor: 2, owner: 3 }

/** A role given by adding or changing a member; ownership changes hands only by a transfer. */
export const MemberRole = Schema.Literal("editor", "viewer").annotations({ description: "The role to give", examples: ["editor"] })
export type MemberRole = typeof MemberRole.Type

export class Member extends Schema.Class<Member>("Member")({
  userId: UserId,
  name: Schema.String.annotations({ description: "The member's name", examples: ["Bob Builder"] }),
  email: Schema.String.annotations({ description: "The member's email address", examples: ["bob@example.com"] }),
  role: ProjectRole,
  addedAt: IsoDateTime
}, { description: "A member of a project, with their role" }) {}

export const AddMemberRequest = Schema.Struct({
  email: Email,
  role: MemberRole
}).annotations({ description: "Who to add, by the email of their account", examples: [{ email: "bob@example.com", role: "editor" }] })
export type AddMemberRequest = typeof AddMemberRequest.Type

export const ChangeRoleRequest = Schema.Struct({ role: MemberRole }).annotations({ description: "The member's new role", examples: [{ role: "viewer" }] })

export const TransferRequest = Schema.Struct({
  userId: PathId.annotations({
    title: "New owner",
    description: "The member who becomes the owner; the current owner becomes an editor",
    examples: [exampleId("usr")]
  })
}).annotations({ description: "The member to hand the project to", examples: [{ userId: exampleId("usr") }] })

export const MemberListQuery = Schema.Struct({ limit: limitParam(20), cursor: cursorParam("usr") })

/** A member as events carry it: who, with which role, and the name they had then (for the words of a notification). */
export const MemberRef = Schema.Struct({ userId: UserId, role: ProjectRole, name: Schema.String })
export type MemberRef = typeof MemberRef.Type

/** Every member of a project after a change: what the notifications service keeps of the project. */
export const MemberRoles = Schema.Array(Schema.Struct({ userId: UserId, role: ProjectRole }))
export type MemberRoles = typeof MemberRoles.Type
