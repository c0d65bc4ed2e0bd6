import { UsersRpc } from "@herald/domain/UsersRpc"
import { TokenSigner } from "@herald/infra/Jwt"
import { ServiceReadiness } from "@herald/infra/Server"
import { Effect } from "effect"
import { Accounts } from "./Accounts.ts"
import { PreferencesRepo } from "./PreferencesRepo.ts"

/** The users service's RPC handlers: the contract of `UsersRpc`, served by `Accounts`. */
export const UsersHandlers = UsersRpc.toLayer(
  Effect.gen(function*() {
    const accounts = yield* Accounts
    const signer = yield* TokenSigner
    const preferences = yield* PreferencesRepo
    const readiness = yield* ServiceReadiness
    return {
      Register: (request) => accounts.register(request),
      Login: (request) => accounts.login(request),
      Refresh: ({ client, refreshToken }) => accounts.refresh(refreshToken, client ?? null),
      Logout: ({ refreshToken, userId }) => accounts.logout(userId, refreshToken),
      GetProfile: ({ userId }) => accounts.profile(userId),
      FindUser: ({ email }) => accounts.findByEmail(email),
      GetUsers: ({ userIds }) => accounts.profiles(userIds),
      UpdateProfile: ({ name, userId }) => accounts.updateProfile(userId, name),
      GetPreferences: ({ userId }) => preferences.get(userId),
      GetPreferencesOf: ({ userIds }) => preferences.getMany(userIds),
      PutPreferences: ({ preferences: wanted, userId }) => preferences.put(userId, wanted),
      Jwks: () => Effect.succeed(signer.jwks),
      Ready: () => readiness
    }
  })
)
