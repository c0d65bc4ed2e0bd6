import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Schema } from "effect"

/**
 * Domain errors. Each is a `Schema.TaggedError` annotated with its HTTP status: it crosses RPC intact (the tag and
 * fields are its wire form) and reaches HTTP clients through `ApiError.http`, in the error shape of API.md.
 */

export class ValidationFailed extends Schema.TaggedError<ValidationFailed>()(
  "ValidationFailed",
  { message: Schema.String, details: Schema.optional(Schema.Unknown) },
  HttpApiSchema.annotations({ status: 400 })
) {}

export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}

export class InvalidCredentials extends Schema.TaggedError<InvalidCredentials>()(
  "InvalidCredentials",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}

export class InvalidRefreshToken extends Schema.TaggedError<InvalidRefreshToken>()(
  "InvalidRefreshToken",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}

/** A spent refresh token was presented again: its whole family has been revoked (RFC 9700 §4.14.2). */
export class TokenReused extends Schema.TaggedError<TokenReused>()(
  "TokenReused",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}

export class Forbidden extends Schema.TaggedError<Forbidden>()(
  "Forbidden",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 403 })
) {}

export class NotFound extends Schema.TaggedError<NotFound>()(
  "NotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

export class UserNotFound extends Schema.TaggedError<UserNotFound>()(
  "UserNotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

export class ProjectNotFound extends Schema.TaggedError<ProjectNotFound>()(
  "ProjectNotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

export class TaskNotFound extends Schema.TaggedError<TaskNotFound>()(
  "TaskNotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

export class NotificationNotFound extends Schema.TaggedError<NotificationNotFound>()(
  "NotificationNotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

export class ExportNotFound extends Schema.TaggedError<ExportNotFound>()(
  "ExportNotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

export class CommentNotFound extends Schema.TaggedError<CommentNotFound>()(
  "CommentNotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

/** The user named is not a member of the project. */
export class MemberNotFound extends Schema.TaggedError<MemberNotFound>()(
  "MemberNotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

/** The request contradicts the resource's state (already a member; the owner leaving without a transfer). */
export class Conflict extends Schema.TaggedError<Conflict>()(
  "Conflict",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

export class EmailTaken extends Schema.TaggedError<EmailTaken>()(
  "EmailTaken",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** `If-Match` named a version that is no longer current. */
export class VersionConflict extends Schema.TaggedError<VersionConflict>()(
  "VersionConflict",
  { message: Schema.String, details: Schema.Struct({ expected: Schema.Int, current: Schema.Int }) },
  HttpApiSchema.annotations({ status: 409 })
) {}

export class ExportNotReady extends Schema.TaggedError<ExportNotReady>()(
  "ExportNotReady",
  { message: Schema.String, details: Schema.Struct({ status: Schema.String }) },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** An `Idempotency-Key` was used before with a different request (another body or endpoint). */
export class IdempotencyKeyMismatch extends Schema.TaggedError<IdempotencyKeyMismatch>()(
  "IdempotencyKeyMismatch",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 422 })
) {}

/** The first request with this `Idempotency-Key` is still running. */
export class IdempotencyKeyInFlight extends Schema.TaggedError<IdempotencyKeyInFlight>()(
  "IdempotencyKeyInFlight",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()(
  "PayloadTooLarge",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 413 })
) {}

export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()(
  "UnsupportedMediaType",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 415 })
) {}

export class RateLimited extends Schema.TaggedError<RateLimited>()(
  "RateLimited",
  { message: Schema.String, details: Schema.Struct({ retryAfter: Schema.Int, policy: Schema.String }) },
  HttpApiSchema.annotations({ status: 429 })
) {}

export class InternalError extends Schema.TaggedError<InternalError>()(
  "InternalError",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 500 })
) {}

/** A server Herald depends on (MongoDB, RabbitMQ, another service) did not answer in time. */
export class DependencyUnavailable extends Schema.TaggedError<DependencyUnavailable>()(
  "DependencyUnavailable",
  { message: Schema.String, details: Schema.optional(Schema.Struct({ dependency: Schema.String })) },
  HttpApiSchema.annotations({ status: 503 })
) {}

/** Builds the one `DependencyUnavailable` of a named dependency. */
export const unavailable = (dependency: string, message = `${dependency} is unavailable`) =>
  new DependencyUnavailable({ message, details: { dependency } })
