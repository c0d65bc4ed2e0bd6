import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import { Context, Schema } from "effect"
import * as ApiError from "./ApiError.ts"
import { DependencyUnavailable, Unauthorized } from "./Errors.ts"
import type { FamilyId, UserId } from "./Ids.ts"

/** The caller of an authenticated request, as proven by a verified access token. */
export class CurrentUser extends Context.Tag("Herald/CurrentUser")<CurrentUser, {
  readonly userId: UserId
  readonly familyId: FamilyId
  readonly tokenId: string
}>() {}

/**
 * Bearer-token authentication: provides `CurrentUser` or fails with 401; 503 while the keys that verify tokens
 * could not be fetched even once (a token cannot be judged then, and calling it invalid would log people out).
 */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("Herald/Authentication", {
  failure: Schema.Union(ApiError.http(Unauthorized), ApiError.http(DependencyUnavailable)),
  provides: CurrentUser,
  security: { bearer: HttpApiSecurity.bearer }
}) {}
