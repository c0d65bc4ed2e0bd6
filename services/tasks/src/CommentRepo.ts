import { Comment, Mention } from "@herald/domain/Comment"
import { decodeCursor, encodeCursor } from "@herald/domain/Common"
import { ValidationFailed } from "@herald/domain/Errors"
import type { DomainEventEncoded } from "@herald/domain/Events"
import { CommentId, ProjectId, TaskId, UserId } from "@herald/domain/Ids"
import * as Outbox from "@herald/infra/Outbox"
import { DocumentStore } from "@herald/infra/Store"
import { Effect, Option, Schema } from "effect"

/** A comment, with its own outbox: the comment and the event that tells of it are one write. */
export const CommentDoc = Schema.Struct({
  _id: CommentId,
  taskId: TaskId,
  projectId: Schema.NullOr(ProjectId),
  authorId: UserId,
  body: Schema.String,
  mentions: Schema.Array(Mention),
  createdAt: Schema.DateFromSelf,
  editedAt: Schema.NullOr(Schema.DateFromSelf),
  deleted: Schema.Boolean,
  ...Outbox.outboxFields
})
export type CommentDoc = typeof CommentDoc.Type

export const toComment = (doc: Omit<CommentDoc, "outbox" | "outboxPending">): Comment =>
  new Comment({
    id: doc._id,
    taskId: doc.taskId,
    authorId: doc.authorId,
    body: doc.body,
    mentions: doc.mentions,
    createdAt: doc.createdAt,
    editedAt: doc.editedAt
  }, true)

const isCommentId = Schema.is(CommentId)

export class CommentRepo extends Effect.Service<CommentRepo>()("Herald/CommentRepo", {
  scoped: Effect.gen(function*() {
    const store = yield* DocumentStore
    const comments = yield* store.collection({
      name: "comments",
      schema: CommentDoc,
      indexes: [{ keys: { taskId: 1, _id: 1 } }, { keys: { outboxPending: 1 } }]
    })
    const documents = Outbox.documents(comments, { isId: isCommentId, deleted: (doc) => doc.deleted })
    return {
      outbox: documents.source("comments"),
      pendingOf: documents.pendingOf,
      /** Stores a new comment with the event that tells of it. */
      create: (comment: Omit<CommentDoc, "outbox" | "outboxPending">, event: DomainEventEncoded) =>
        documents.insert(comment, [event]).pipe(Effect.catchTag("DuplicateKey", (error) => Effect.die(error))),
      /** Changes a comment still at `expectedVersion` (`VersionMoved` otherwise). */
      write: documents.write,
      /** A live comment: `None` for a malformed id or a deleted one. */
      find: (commentId: string) =>
        isCommentId(commentId)
          ? Effect.map(comments.findOne({ _id: commentId }), Option.filter((doc) => !doc.deleted))
          : Effect.succeed(Option.none<CommentDoc>()),
      /** A task's comments, oldest first, `limit` at a time. */
      list: (taskId: TaskId, limit: number, cursor: string | undefined) =>
        Effect.gen(function*() {
          const after = cursor === undefined ? undefined : decodeCursor(cursor)
          if (after !== undefined && !isCommentId(after)) return yield* Effect.fail(new ValidationFailed({ message: "invalid cursor" }))
          const docs = yield* comments.find(
            after !== undefined && isCommentId(after) ? { taskId, deleted: false, _id: { $gt: after } } : { taskId, deleted: false },
            { sort: { _id: 1 }, limit: limit + 1 }
          )
          const page = docs.slice(0, limit)
          const last = page[page.length - 1]
          return { items: page.map(toComment), nextCursor: docs.length > limit && last !== undefined ? encodeCursor(last._id) : null }
        })
    }
  })
}) {}
