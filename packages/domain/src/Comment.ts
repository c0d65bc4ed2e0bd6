import { Schema } from "effect"
import { Cursor, IsoDateTime, Limit, TrimmedText } from "./Common.ts"
import { CommentId, TaskId, UserId } from "./Ids.ts"

export const CommentBody = TrimmedText(1, 5000)

/**
 * An `@name` or `@email` in a comment that names a member. A name two members share mentions nobody: `userId` is
 * null and `ambiguous` true, so the author can write the email instead.
 */
export const Mention = Schema.Struct({
  text: Schema.String.annotations({ description: "The mention as written, e.g. `@Ada` or `@ada@example.com`" }),
  userId: Schema.NullOr(UserId),
  ambiguous: Schema.Boolean
})
export type Mention = typeof Mention.Type

export class Comment extends Schema.Class<Comment>("Comment")({
  id: CommentId,
  taskId: TaskId,
  authorId: UserId,
  body: Schema.String,
  mentions: Schema.Array(Mention),
  createdAt: IsoDateTime,
  editedAt: Schema.NullOr(IsoDateTime)
}) {}

export const CreateCommentRequest = Schema.Struct({ body: CommentBody })
export type CreateCommentRequest = typeof CreateCommentRequest.Type

export const UpdateCommentRequest = CreateCommentRequest

export const CommentListQuery = Schema.Struct({
  limit: Schema.optionalWith(Limit, { default: () => 20 }),
  cursor: Schema.optional(Cursor)
})
