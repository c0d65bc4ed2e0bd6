import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import {
  DependencyUnavailable,
  EmailTaken,
  InvalidCredentials,
  InvalidRefreshToken,
  TokenReused,
  UserNotFound
} from "./Errors.ts"
import { Readiness } from "./Health.ts"
import { UserId } from "./Ids.ts"
import { Preferences, VersionedPreferences } from "./Preferences.ts"
import { Jwks, LoginRequest, RefreshRequest, RegisterRequest, SessionClient, TokenPair, UpdateProfileRequest, User } from "./User.ts"

/** The users service, as the gateway calls it. The gateway passes the verified caller's id; clients never do. */
export class UsersRpc extends RpcGroup.make(
  Rpc.make("Register", {
    payload: RegisterRequest,
    success: User,
    error: Schema.Union(EmailTaken, DependencyUnavailable)
  }),
  Rpc.make("Login", {
    payload: LoginRequest,
    success: TokenPair,
    error: Schema.Union(InvalidCredentials, DependencyUnavailable)
  }),
  Rpc.make("Refresh", {
    // `client` is optional so that a gateway of the previous release can still call.
    payload: { refreshToken: RefreshRequest.fields.refreshToken, client: Schema.optional(SessionClient) },
    success: TokenPair,
    error: Schema.Union(InvalidRefreshToken, TokenReused, DependencyUnavailable)
  }),
  Rpc.make("Logout", {
    payload: { userId: UserId, refreshToken: RefreshRequest.fields.refreshToken },
    error: DependencyUnavailable
  }),
  Rpc.make("GetProfile", {
    payload: { userId: UserId },
    success: User,
    error: Schema.Union(UserNotFound, DependencyUnavailable)
  }),
  Rpc.make("UpdateProfile", {
    payload: { userId: UserId, ...UpdateProfileRequest.fields },
    success: User,
    error: Schema.Union(UserNotFound, DependencyUnavailable)
  }),
  /** Another service resolving an email to an account (inviting someone to a project). */
  Rpc.make("FindUser", {
    payload: { email: Schema.String },
    success: User,
    error: Schema.Union(UserNotFound, DependencyUnavailable)
  }),
  /** Profiles of several users (unknown ids are left out): names for members, mentions and notifications. */
  Rpc.make("GetUsers", {
    payload: { userIds: Schema.Array(UserId).pipe(Schema.maxItems(2000)) },
    success: Schema.Array(User),
    error: DependencyUnavailable
  }),
  /** A user's notification preferences, with their version (the defaults at version 0 for one who never set any). */
  Rpc.make("GetPreferences", {
    payload: { userId: UserId },
    success: VersionedPreferences,
    error: DependencyUnavailable
  }),
  /** The preferences of several users at once (an event told to a whole project), in the order asked. */
  Rpc.make("GetPreferencesOf", {
    payload: { userIds: Schema.Array(UserId).pipe(Schema.maxItems(1000)) },
    success: Schema.Array(Schema.Struct({ userId: UserId, ...VersionedPreferences.fields })),
    error: DependencyUnavailable
  }),
  /** Replaces them; the notifications service is told (`user.preferences_updated`) before this answers. */
  Rpc.make("PutPreferences", {
    payload: { userId: UserId, preferences: Preferences },
    success: VersionedPreferences,
    error: DependencyUnavailable
  }),
  Rpc.make("Jwks", { success: Jwks }),
  Rpc.make("Ready", { success: Readiness })
) {}
