import { describe, expect, it } from "@effect/vitest"
import { eventually, signUp, sleep } from "@herald/testing/Http"
import { freePort } from "@herald/testing/Ports"
import * as System from "@herald/testing/System"
import { Context, Effect, Layer } from "effect"
import { generateKeyPairSync } from "node:crypto"
import { noticesOfFamily, reuse, revokedNotices, spentToken } from "./support/Sessions.ts"

const promise = <A>(run: () => Promise<A>) => Effect.promise(run)

/** Herald on this run's servers under the names of `env` (so a second start finds what the first stored). */
const start = (env: Record<string, string>) =>
  Effect.map(Layer.build(System.layer("revoked-restart", { env })), (context) => Context.get(context, System.TestSystem).url)

describe("security.session_revoked survives a restart", () => {
  it.live("recorded while no broker answers, then Herald stops: the next start's relay publishes it, once", () =>
    Effect.gen(function*() {
      // One database, prefixes and signing key for both starts: the owner's access token outlives the restart.
      const key = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString()
      const { AMQP_PREFIX, MONGODB_DATABASE, REDIS_PREFIX } = System.testEnv("revoked-restart")
      const names = { AMQP_PREFIX, MONGODB_DATABASE, REDIS_PREFIX, JWT_PRIVATE_KEY: key }
      const nowhere = `amqp://127.0.0.1:${yield* promise(freePort)}`

      const { family, user } = yield* Effect.scoped(Effect.gen(function*() {
        const url = yield* start({ ...names, AMQP_URL: nowhere, AMQP_CONNECT_RETRIES: "0" })
        const user = yield* promise(() => signUp(url, "restart"))
        const family = yield* promise(() => spentToken(url, user))
        expect((yield* promise(() => reuse(url, family.spent))).status).toBe(401)
        yield* promise(() => sleep(1_000))
        // Nothing could be published: the notice exists only as recorded with the revocation.
        expect(yield* promise(() => revokedNotices(url, user.token))).toHaveLength(0)
        return { family, user }
      }))

      const url = yield* start(names)
      const items = yield* promise(() => eventually(() => revokedNotices(url, user.token), (found) => found.length > 0))
      expect(noticesOfFamily(items, family.familyId)).toHaveLength(1)
      yield* promise(() => sleep(1_500))
      expect(yield* promise(() => revokedNotices(url, user.token))).toHaveLength(1)
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
