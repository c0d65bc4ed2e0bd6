import { type DependencyUnavailable, EmailTaken, InvalidCredentials, UserNotFound } from "@herald/domain/Errors"
import { newUserId, type UserId } from "@herald/domain/Ids"
import type { LoginRequest, RegisterRequest, SessionClient, TokenPair, User } from "@herald/domain/User"
import { TokenSigner } from "@herald/infra/Jwt"
import { Clock, Effect, Option } from "effect"
import { Passwords } from "./Passwords.ts"
import { ProfileCache } from "./ProfileCache.ts"
import { RefreshTokens } from "./RefreshTokens.ts"
import { toUser, UserRepo } from "./UserRepo.ts"

/** Registration, login, token rotation, logout and profiles: the users service's business. */
export class Accounts extends Effect.Service<Accounts>()("Herald/Accounts", {
  effect: Effect.gen(function*() {
    const users = yield* UserRepo
    const passwords = yield* Passwords
    const refreshTokens = yield* RefreshTokens
    const signer = yield* TokenSigner
    const profiles = yield* ProfileCache

    const tokenPair = (userId: UserId, familyId: Parameters<typeof signer.sign>[0]["familyId"], refreshToken: string) =>
      Effect.map(signer.sign({ userId, familyId }), (access): TokenPair => ({
        accessToken: access.token,
        refreshToken,
        tokenType: "Bearer",
        expiresIn: access.expiresIn
      }))

    const emailTaken = () => new EmailTaken({ message: "an account with this email already exists" })
    const wrongCredentials = () => new InvalidCredentials({ message: "invalid email or password" })

    return {
      register: (request: RegisterRequest) =>
        Effect.gen(function*() {
          // A cheap check first spares a bcrypt hash on obvious duplicates; the unique index settles races.
          if (Option.isSome(yield* users.findByEmail(request.email))) return yield* Effect.fail(emailTaken())
          const passwordHash = yield* passwords.hash(request.password)
          const now = new Date(yield* Clock.currentTimeMillis)
          const doc = {
            _id: yield* newUserId,
            email: request.email,
            passwordHash,
            name: request.name,
            version: 1,
            createdAt: now,
            updatedAt: now
          }
          yield* users.insert(doc).pipe(Effect.catchTag("DuplicateKey", () => Effect.fail(emailTaken())))
          yield* Effect.logInfo(`registered user ${doc._id}`)
          return toUser(doc)
        }),

      login: (request: LoginRequest) =>
        Effect.gen(function*() {
          const found = yield* users.findByEmail(request.email)
          // Unknown emails cost a bcrypt comparison too: the answer and its timing are the same.
          const valid = Option.isSome(found)
            ? yield* passwords.verify(request.password, found.value.passwordHash)
            : yield* passwords.verifyUnknown(request.password)
          if (!valid || Option.isNone(found)) return yield* Effect.fail(wrongCredentials())
          const { familyId, token } = yield* refreshTokens.start(found.value._id)
          return yield* tokenPair(found.value._id, familyId, token)
        }),

      /** `client`: who presented the token, told to the owner if it was spent already. */
      refresh: (refreshToken: string, client: SessionClient | null) =>
        Effect.flatMap(refreshTokens.rotate(refreshToken, client), ({ familyId, token, userId }) => tokenPair(userId, familyId, token)),

      logout: (userId: UserId, refreshToken: string) => refreshTokens.revokeFamilyOf(refreshToken, userId),

      profile: (userId: UserId): Effect.Effect<User, UserNotFound | DependencyUnavailable> =>
        Effect.gen(function*() {
          const cached = yield* profiles.get(userId)
          if (Option.isSome(cached)) return cached.value
          const doc = yield* users.get(userId)
          const user = toUser(doc)
          yield* profiles.put(user, doc.version)
          return user
        }),

      /** The account of an email address (normalised as at registration), for inviting its owner somewhere. */
      findByEmail: (email: string): Effect.Effect<User, UserNotFound | DependencyUnavailable> =>
        Effect.flatMap(users.findByEmail(email.trim().toLowerCase()), Option.match({
          onNone: () => Effect.fail(new UserNotFound({ message: "no account with this email" })),
          onSome: (doc) => Effect.succeed(toUser(doc))
        })),

      /** Profiles of several users at once, in one query (unknown ids are left out). */
      profiles: (userIds: ReadonlyArray<UserId>) =>
        userIds.length === 0 ? Effect.succeed([]) : Effect.map(users.findMany([...new Set(userIds)]), (docs) => docs.map(toUser)),

      updateProfile: (userId: UserId, name: string) =>
        Effect.gen(function*() {
          const doc = yield* users.rename(userId, name)
          const user = toUser(doc)
          yield* profiles.refresh(user, doc.version)
          return user
        })
    }
  }),
  dependencies: [UserRepo.Default, RefreshTokens.Default, ProfileCache.Default]
}) {}
