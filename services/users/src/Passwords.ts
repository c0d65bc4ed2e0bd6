import { maxPasswordBytes, passwordBytes } from "@herald/domain/User"
import bcrypt from "bcryptjs"
import { Context, Effect, Layer } from "effect"
import { PasswordConfig } from "./UsersConfig.ts"


/**
 * bcrypt hashing. `verifyUnknown` spends the same time as a real comparison, for logins of unknown emails. A password
 * longer than bcrypt reads (registration refuses those) never matches, in the time of a real comparison.
 */
export class Passwords extends Context.Tag("Herald/Passwords")<Passwords, {
  readonly hash: (password: string) => Effect.Effect<string>
  readonly verify: (password: string, hash: string) => Effect.Effect<boolean>
  readonly verifyUnknown: (password: string) => Effect.Effect<false>
}>() {}

export const layer = Layer.effect(
  Passwords,
  Effect.gen(function*() {
    const cost = yield* PasswordConfig
    // A hash of the same cost as real ones: comparing against it takes as long as a real check.
    const decoy = yield* Effect.promise(() => bcrypt.hash(crypto.randomUUID(), cost))
    const compare = (password: string, hash: string) => Effect.promise(() => bcrypt.compare(password, hash))
    const verifyUnknown = (password: string) => Effect.as(compare(password, decoy), false as const)
    return Passwords.of({
      hash: (password) => Effect.promise(() => bcrypt.hash(password, cost)),
      verify: (password, hash) => passwordBytes(password) > maxPasswordBytes ? verifyUnknown(password) : compare(password, hash),
      verifyUnknown
    })
  })
)
