import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { HeraldApi } from "@herald/domain/Api"
import { CurrentUser } from "@herald/domain/Auth"
import { Effect } from "effect"
import { callUsers, UsersClient } from "@herald/infra/ServiceClients"

export const AuthLive = HttpApiBuilder.group(HeraldApi, "auth", (handlers) =>
  Effect.map(UsersClient, (users) =>
    handlers
      .handle("register", ({ payload }) => Effect.map(callUsers(users.Register(payload)), (user) => ({ user })))
      .handle("login", ({ payload }) => callUsers(users.Login(payload)))
      .handle("refresh", ({ payload }) => callUsers(users.Refresh(payload)))))

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
