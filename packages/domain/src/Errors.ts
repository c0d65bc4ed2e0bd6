import { Schema } from "effect"
import { documented } from "./ApiError.ts"

/**
 * Domain errors. Each is a `Schema.TaggedError` annotated with its HTTP status: it crosses RPC intact (the tag and
 * fields are its wire form) and reaches HTTP clients through `ApiError.http`, in the error shape of API.md.
 */

export class ValidationFailed extends Schema.TaggedError<ValidationFailed>()(
  "ValidationFailed",
  { message: Schema.String, details: Schema.optional(Schema.Unknown) },
  documented(400, {
    description: "The request did not match what the operation accepts (a field of the wrong type or out of range, a malformed body, a bad query parameter); `details.issues` says where",
    message: "title: Expected a string at least 1 character(s) long"
  })
) {}

export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  { message: Schema.String },
  documented(401, {
    description: "No valid access token: send `Authorization: Bearer <accessToken>` with a token that has not expired or been revoked",
    message: "missing bearer access token"
  })
) {}

export class InvalidCredentials extends Schema.TaggedError<InvalidCredentials>()(
  "InvalidCredentials",
  { message: Schema.String },
  documented(401, {
    description: "The email and password do not match an account (the same answer for either mistake)",
    message: "invalid email or password"
  })
) {}

export class InvalidRefreshToken extends Schema.TaggedError<InvalidRefreshToken>()(
  "InvalidRefreshToken",
  { message: Schema.String },
  documented(401, {
    description: "The refresh token is unknown, expired or revoked: log in again",
    message: "invalid or expired refresh token"
  })
) {}

/** A spent refresh token was presented again: its whole family has been revoked (RFC 9700 §4.14.2). */
export class TokenReused extends Schema.TaggedError<TokenReused>()(
  "TokenReused",
  { message: Schema.String },
  documented(401, {
    description: "The refresh token was already used: every token of that login is now revoked, as a stolen token may be in use",
    message: "refresh token already used; every token of this login is revoked"
  })
) {}

export class Forbidden extends Schema.TaggedError<Forbidden>()(
  "Forbidden",
  { message: Schema.String },
  documented(403, {
    description: "The caller may see the resource but their role does not allow this change",
    message: "forbidden"
  })
) {}

export class NotFound extends Schema.TaggedError<NotFound>()(
  "NotFound",
  { message: Schema.String },
  documented(404, {
    description: "Nothing is there, or it belongs to someone else",
    message: "not found"
  })
) {}

export class UserNotFound extends Schema.TaggedError<UserNotFound>()(
  "UserNotFound",
  { message: Schema.String },
  documented(404, {
    description: "The account no longer exists",
    message: "user not found"
  })
) {}

export class ProjectNotFound extends Schema.TaggedError<ProjectNotFound>()(
  "ProjectNotFound",
  { message: Schema.String },
  documented(404, {
    description: "No project with that id is visible to the caller",
    message: "project not found"
  })
) {}

export class TaskNotFound extends Schema.TaggedError<TaskNotFound>()(
  "TaskNotFound",
  { message: Schema.String },
  documented(404, {
    description: "No task with that id is visible to the caller",
    message: "task not found"
  })
) {}

export class NotificationNotFound extends Schema.TaggedError<NotificationNotFound>()(
  "NotificationNotFound",
  { message: Schema.String },
  documented(404, {
    description: "No notification with that id belongs to the caller",
    message: "notification not found"
  })
) {}

export class ExportNotFound extends Schema.TaggedError<ExportNotFound>()(
  "ExportNotFound",
  { message: Schema.String },
  documented(404, {
    description: "No export with that id belongs to the caller (files expire after a while)",
    message: "export not found"
  })
) {}

export class CommentNotFound extends Schema.TaggedError<CommentNotFound>()(
  "CommentNotFound",
  { message: Schema.String },
  documented(404, {
    description: "No such comment, or one on a task the caller cannot see",
    message: "comment not found"
  })
) {}

/** The user named is not a member of the project. */
export class MemberNotFound extends Schema.TaggedError<MemberNotFound>()(
  "MemberNotFound",
  { message: Schema.String },
  documented(404, {
    description: "The user named is not a member of the project",
    message: "member not found"
  })
) {}

/** The request contradicts the resource's state (already a member; the owner leaving without a transfer). */
export class Conflict extends Schema.TaggedError<Conflict>()(
  "Conflict",
  { message: Schema.String },
  documented(409, {
    description: "The request contradicts the project's state (already a member; the owner leaving without a transfer)",
    message: "already a member of this project"
  })
) {}

export class EmailTaken extends Schema.TaggedError<EmailTaken>()(
  "EmailTaken",
  { message: Schema.String },
  documented(409, {
    description: "An account with this email address already exists",
    message: "an account with this email already exists"
  })
) {}

/** `If-Match` named a version that is no longer current. */
export class VersionConflict extends Schema.TaggedError<VersionConflict>()(
  "VersionConflict",
  { message: Schema.String, details: Schema.Struct({ expected: Schema.Int, current: Schema.Int }) },
  documented(409, {
    description: "The task changed since the version named in If-Match: fetch it again and reapply the change",
    message: "task changed meanwhile", details: { expected: 3, current: 4 }
  })
) {}

export class ExportNotReady extends Schema.TaggedError<ExportNotReady>()(
  "ExportNotReady",
  { message: Schema.String, details: Schema.Struct({ status: Schema.String }) },
  documented(409, {
    description: "The export is not completed yet: poll GET /api/exports/{id} until its status is completed",
    message: "export is running, not completed", details: { status: "running" }
  })
) {}

/** A plain HTTP request to the WebSocket stream. */
export class UpgradeRequired extends Schema.TaggedError<UpgradeRequired>()(
  "UpgradeRequired",
  { message: Schema.String },
  documented(426, {
    description: "This operation speaks WebSocket only: send the upgrade handshake (`Upgrade: websocket`)",
    message: "this endpoint speaks WebSocket"
  })
) {}

/** An `Idempotency-Key` was used before with a different request (another body or endpoint). */
export class IdempotencyKeyMismatch extends Schema.TaggedError<IdempotencyKeyMismatch>()(
  "IdempotencyKeyMismatch",
  { message: Schema.String },
  documented(422, {
    description: "This Idempotency-Key was used before with another request (another body or endpoint)",
    message: "this Idempotency-Key was used with a different request"
  })
) {}

/** The first request with this `Idempotency-Key` is still running. */
export class IdempotencyKeyInFlight extends Schema.TaggedError<IdempotencyKeyInFlight>()(
  "IdempotencyKeyInFlight",
  { message: Schema.String },
  documented(409, {
    description: "The first request with this Idempotency-Key is still running: try again shortly",
    message: "a request with this Idempotency-Key is still in progress"
  })
) {}

export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()(
  "PayloadTooLarge",
  { message: Schema.String },
  documented(413, {
    description: "The request body is larger than 1 MiB",
    message: "request body larger than 1048576 bytes", details: { limit: 1048576 }
  })
) {}

export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()(
  "UnsupportedMediaType",
  { message: Schema.String },
  documented(415, {
    description: "A request body must be JSON, sent with `Content-Type: application/json`",
    message: "request bodies must be JSON: send Content-Type: application/json", details: { contentType: "text/plain" }
  })
) {}

export class RateLimited extends Schema.TaggedError<RateLimited>()(
  "RateLimited",
  { message: Schema.String, details: Schema.Struct({ retryAfter: Schema.Int, policy: Schema.String }) },
  documented(429, {
    description: "Too many requests from this client (or, on login and registration, for this email): wait `Retry-After` seconds",
    message: "too many requests; slow down", details: { retryAfter: 42, policy: "default" }
  })
) {}

export class InternalError extends Schema.TaggedError<InternalError>()(
  "InternalError",
  { message: Schema.String },
  documented(500, {
    description: "A bug in Herald; the request id in `X-Request-Id` finds it in the logs",
    message: "internal error"
  })
) {}

/** A server Herald depends on (MongoDB, RabbitMQ, another service) did not answer in time. */
export class DependencyUnavailable extends Schema.TaggedError<DependencyUnavailable>()(
  "DependencyUnavailable",
  { message: Schema.String, details: Schema.optional(Schema.Struct({ dependency: Schema.String })) },
  documented(503, {
    description: "A server Herald depends on (database, broker, another service) did not answer in time; retrying later is safe for reads",
    message: "the tasks service is unavailable", details: { dependency: "tasks" }
  })
) {}

/** Builds the one `DependencyUnavailable` of a named dependency. */
export const unavailable = (dependency: string, message = `${dependency} is unavailable`) =>
  new DependencyUnavailable({ message, details: { dependency } })
