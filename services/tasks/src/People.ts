import type { UserId } from "@herald/domain/Ids"
import type { User } from "@herald/domain/User"
import { callUsers, UsersClient } from "@herald/infra/ServiceClients"
import { Effect } from "effect"

/** The accounts behind members: names and emails live with the users service, and are read from it when needed. */
export class People extends Effect.Service<People>()("Herald/TasksPeople", {
  effect: Effect.gen(function*() {
    const users = yield* UsersClient
    const profiles = (userIds: ReadonlyArray<UserId>) =>
      userIds.length === 0 ? Effect.succeed<ReadonlyArray<User>>([]) : callUsers(users.GetUsers({ userIds }))
    return {
      profiles,
      /** The name an event gives its actor. */
      nameOf: (userId: UserId) => Effect.map(profiles([userId]), (found) => found[0]?.name ?? "Someone"),
      byEmail: (email: string) => callUsers(users.FindUser({ email }))
    }
  }),
  dependencies: [UsersClient.Default]
}) {}
