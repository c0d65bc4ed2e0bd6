import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { HeraldApi } from "@herald/domain/Api"
import { CurrentUser } from "@herald/domain/Auth"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Effect, Option } from "effect"
import { clientAddress } from "../ClientIp.ts"
import { RateLimitConfig } from "../GatewayConfig.ts"
import { callUsers, UsersClient } from "@herald/infra/ServiceClients"

export const AuthLive = HttpApiBuilder.group(HeraldApi, "auth", (handlers) =>
  Effect.gen(function*() {
    const users = yield* UsersClient
    const { trustedProxyHops } = yield* RateLimitConfig
    // Told to the owner if this token turns out to be a reused one.
    const clientOf = (request: HttpServerRequest.HttpServerRequest) => ({
      ip: clientAddress(Option.getOrUndefined(request.remoteAddress), request.headers["x-forwarded-for"], trustedProxyHops).slice(0, 64),
      userAgent: request.headers["user-agent"]?.slice(0, 256) ?? null
    })
    return handlers
      .handle("register", ({ payload }) => Effect.map(callUsers(users.Register(payload)), (user) => ({ user })))
      .handle("login", ({ payload }) => callUsers(users.Login(payload)))
      .handle("refresh", ({ payload, request }) => callUsers(users.Refresh({ refreshToken: payload.refreshToken, client: clientOf(request) })))
  }))

export const UsersLive = HttpApiBuilder.group(HeraldApi, "users", (handlers) =>
  Effect.map(UsersClient, (users) =>
    handlers
      .handle("logout", ({ payload }) =>
        Effect.flatMap(CurrentUser, ({ userId }) => callUsers(users.Logout({ userId, refreshToken: payload.refreshToken }))))
      .handle("profile", () => Effect.flatMap(CurrentUser, ({ userId }) => callUsers(users.GetProfile({ userId }))))
      .handle("updateProfile", ({ payload }) =>
        Effect.flatMap(CurrentUser, ({ userId }) => callUsers(users.UpdateProfile({ userId, name: payload.name }))))
      .handle("preferences", () =>
        Effect.flatMap(CurrentUser, ({ userId }) => Effect.map(callUsers(users.GetPreferences({ userId })), (stored) => stored.preferences)))
      .handle("replacePreferences", ({ payload }) =>
        Effect.flatMap(CurrentUser, ({ userId }) =>
          Effect.map(callUsers(users.PutPreferences({ userId, preferences: payload })), (stored) => stored.preferences)))))
