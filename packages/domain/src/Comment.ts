import { Schema } from "effect"
import { cursorParam, IsoDateTime, limitParam, TrimmedText } from "./Common.ts"
import { CommentId, TaskId, UserId } from "./Ids.ts"

export const CommentBody = TrimmedText(1, 5000, {
  description: "The comment; `@name` or `@email` of a member mentions them",
  examples: ["@bob@example.com could you review this?"]
})

/**
 * An `@name` or `@email` in a comment that names a member. A name two members share mentions nobody: `userId` is
 * null and `ambiguous` true, so the author can write the email instead.
 */
export const Mention = Schema.Struct({
  text: Schema.String.annotations({ description: "The mention as written, e.g. `@Ada` or `@ada@example.com`" }),
  userId: Schema.NullOr(UserId).annotations({ description: "The member mentioned; null when the name is ambiguous" }),
  ambiguous: Schema.Boolean.annotations({ description: "Two or more members have this name: nobody was mentioned", examples: [false] })
}).annotations({ description: "A mention of a member in a comment" })
export type Mention = typeof Mention.Type

export class Comment extends Schema.Class<Comment>("Comment")({
  id: CommentId,
  taskId: TaskId,
  authorId: UserId,
  body: Schema.String.annotations({ description: "The comment's text", examples: ["@bob@example.com could you review this?"] }),
  mentions: Schema.Array(Mention),
  createdAt: IsoDateTime,
  editedAt: Schema.NullOr(IsoDateTime).annotations({ description: "When the author last edited it; null if never" })
}, { description: "A comment on a task" }) {}

export const CreateCommentRequest = Schema.Struct({ body: CommentBody }).annotations({
  description: "A comment",
  examples: [{ body: "@bob@example.com could you review this?" }]
})
export type CreateCommentRequest = typeof CreateCommentRequest.Type

export const UpdateCommentRequest = CreateCommentRequest

export const CommentListQuery = Schema.Struct({ limit: limitParam(20), cursor: cursorParam("cmt") })
