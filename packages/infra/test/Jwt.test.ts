import { describe, expect, it } from "@effect/vitest"
import { FamilyId, UserId } from "@herald/domain/Ids"
import type { Jwks } from "@herald/domain/User"
import { ConfigProvider, Effect, Layer, Ref, Schema } from "effect"
import * as jose from "jose"
import { layerSigner, makeVerifier, TokenSigner } from "../src/Jwt.ts"

const userId = Schema.decodeSync(UserId)("usr_01M83N7SEMGWZ7Z3S3GWPHE91P")
const familyId = Schema.decodeSync(FamilyId)("fam_01M83N7SH1Q5E1V97AQMMD2J5V")

const withConfig = (entries: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(entries))))

/** A signer (with a fresh key) and a verifier that fetches the signer's JWKS, counting the fetches. */
const setup = (config: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const signer = yield* TokenSigner
    const fetches = yield* Ref.make(0)
    const jwks = yield* Ref.make<Jwks>(signer.jwks)
    const verifier = yield* makeVerifier(Ref.update(fetches, (n) => n + 1).pipe(Effect.zipRight(Ref.get(jwks))), {
      refreshInterval: "300 millis"
    })
    return { signer, verifier, fetches, jwks }
  }).pipe(Effect.provide(layerSigner), Effect.provide(withConfig(config)))

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

const claimsOf = (token: string) => jose.decodeJwt(token)

/** A new Ed25519 private key, as `JWT_PRIVATE_KEY` holds it. */
const freshPem = Effect.promise(async () => {
  const { privateKey } = await jose.generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true })
  return jose.exportPKCS8(privateKey)
})

describe("access tokens", () => {
  it.live("a token the signer issued verifies, with its user, family and id", () =>
    Effect.gen(function*() {
      const { signer, verifier } = yield* setup()
      const { expiresIn, token } = yield* signer.sign({ userId, familyId })
      const claims = yield* verifier.verify(token)
      expect(claims).toMatchObject({ userId, familyId })
      expect(expiresIn).toBe(15 * 60)
      const header = jose.decodeProtectedHeader(token)
      expect(header).toMatchObject({ alg: "EdDSA", typ: "at+jwt" })
      expect(typeof header.kid).toBe("string")
      expect(claimsOf(token)).toMatchObject({ iss: "herald", aud: "herald-api", sub: userId })
    }))

  it.live("a tampered token is rejected", () =>
    Effect.gen(function*() {
      const { signer, verifier } = yield* setup()
      const { token } = yield* signer.sign({ userId, familyId })
      const [header, , signature] = token.split(".")
      const forged = `${header}.${b64({ ...claimsOf(token), sub: "usr_01M83N7SEMGWZ7Z3S3GWPHE000" })}.${signature}`
      expect((yield* Effect.flip(verifier.verify(forged)))._tag).toBe("Unauthorized")
    }))

  it.live("a token that verified before does not vouch for an altered copy of itself", () =>
    Effect.gen(function*() {
      const { signer, verifier } = yield* setup()
      const { token } = yield* signer.sign({ userId, familyId })
      expect((yield* verifier.verify(token)).userId).toBe(userId)
      expect((yield* verifier.verify(token)).userId).toBe(userId)
      const [header, , signature] = token.split(".")
      const forged = `${header}.${b64({ ...claimsOf(token), fid: "fam_01M83N7SH1Q5E1V97AQMMD2000" })}.${signature}`
      expect((yield* Effect.flip(verifier.verify(forged)))._tag).toBe("Unauthorized")
      expect((yield* Effect.flip(verifier.verify(`${token}x`)))._tag).toBe("Unauthorized")
    }))

  it.live("`alg: none` and HS256 signed with the public key are rejected", () =>
    Effect.gen(function*() {
      const { signer, verifier } = yield* setup()
      const { token } = yield* signer.sign({ userId, familyId })
      const payload = claimsOf(token)
      const kid = jose.decodeProtectedHeader(token).kid
      const unsigned = `${b64({ alg: "none", typ: "at+jwt", kid })}.${b64(payload)}.`
      expect((yield* Effect.flip(verifier.verify(unsigned)))._tag).toBe("Unauthorized")
      // The classic confusion: the public key used as an HMAC secret.
      const publicKey = new TextEncoder().encode(JSON.stringify(signer.jwks.keys[0]))
      const hmac = yield* Effect.promise(() =>
        new jose.SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "at+jwt", ...(kid ? { kid } : {}) }).sign(publicKey)
      )
      expect((yield* Effect.flip(verifier.verify(hmac)))._tag).toBe("Unauthorized")
    }))

  it.live("expired, wrong-audience, wrong-issuer and wrong-type tokens are rejected", () =>
    Effect.gen(function*() {
      const { verifier } = yield* setup()
      // A key the verifier has never seen: each of these must fail on its claims or header, whatever the key.
      const { privateKey } = yield* Effect.promise(() => jose.generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true }))
      const now = Math.floor(Date.now() / 1000)
      const sign = (claims: jose.JWTPayload, typ = "at+jwt") =>
        Effect.promise(() => new jose.SignJWT(claims).setProtectedHeader({ alg: "EdDSA", typ }).sign(privateKey))
      const base = { sub: userId, fid: familyId, jti: "x", iss: "herald", aud: "herald-api", iat: now, nbf: now, exp: now + 60 }
      for (const claims of [{ ...base, exp: now - 60 }, { ...base, aud: "other" }, { ...base, iss: "evil" }]) {
        expect((yield* Effect.flip(verifier.verify(yield* sign(claims))))._tag).toBe("Unauthorized")
      }
      expect((yield* Effect.flip(verifier.verify(yield* sign(base, "JWT"))))._tag).toBe("Unauthorized")
    }))

  it.live("an expired token of the real key says so, even though it verified (and was remembered) before", () =>
    Effect.gen(function*() {
      const { signer, verifier } = yield* setup({ ACCESS_TOKEN_TTL: "1 seconds" })
      const { token } = yield* signer.sign({ userId, familyId })
      expect((yield* verifier.verify(token)).userId).toBe(userId)
      // Expired, and past the five seconds of tolerated clock skew.
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 6_500)))
      const error = yield* Effect.flip(verifier.verify(token))
      expect(error.message).toBe("access token expired")
    }), { timeout: 15_000 })

  it.live("after a key rotation, a token of the new key is accepted once the keys are fetched again, at most so often", () =>
    Effect.gen(function*() {
      const { fetches, jwks, signer, verifier } = yield* setup()
      yield* verifier.verify((yield* signer.sign({ userId, familyId })).token)
      expect(yield* Ref.get(fetches)).toBe(1)
      const rotated = yield* setup()
      const { token } = yield* rotated.signer.sign({ userId, familyId })
      // The users service now publishes both keys.
      yield* Ref.set(jwks, { keys: [...signer.jwks.keys, ...rotated.signer.jwks.keys] })
      // Right after a fetch, an unknown key id does not trigger another: forged ids cost nothing.
      expect((yield* Effect.flip(verifier.verify(token)))._tag).toBe("Unauthorized")
      expect(yield* Ref.get(fetches)).toBe(1)
      yield* Effect.sleep("350 millis")
      expect((yield* verifier.verify(token)).userId).toBe(userId)
      expect(yield* Ref.get(fetches)).toBe(2)
    }))

  it.live("a generated key is named by its thumbprint whatever JWT_KEY_ID says; JWT_KEY_ID names a configured key", () =>
    Effect.gen(function*() {
      const generated = yield* setup({ JWT_KEY_ID: "herald-1" })
      const kid = jose.decodeProtectedHeader((yield* generated.signer.sign({ userId, familyId })).token).kid
      const published = generated.signer.jwks.keys[0]
      if (published === undefined) return yield* Effect.dieMessage("no published key")
      const { crv, kty, x } = published
      if (crv === undefined || x === undefined) return yield* Effect.dieMessage("not an OKP key")
      expect(kid).toBe(yield* Effect.promise(() => jose.calculateJwkThumbprint({ kty, crv, x })))
      expect(published.kid).toBe(kid)
      const configured = yield* setup({ JWT_KEY_ID: "herald-1", JWT_PRIVATE_KEY: yield* freshPem })
      expect(jose.decodeProtectedHeader((yield* configured.signer.sign({ userId, familyId })).token).kid).toBe("herald-1")
    }))

  it.live("a key replaced under the same kid is fetched again after a signature failure, at most so often", () =>
    Effect.gen(function*() {
      const { fetches, jwks, signer, verifier } = yield* setup({ JWT_KEY_ID: "herald-1", JWT_PRIVATE_KEY: yield* freshPem })
      yield* verifier.verify((yield* signer.sign({ userId, familyId })).token)
      expect(yield* Ref.get(fetches)).toBe(1)
      // The signer restarts with another key under the same id, and publishes only that one.
      const replaced = yield* setup({ JWT_KEY_ID: "herald-1", JWT_PRIVATE_KEY: yield* freshPem })
      yield* Ref.set(jwks, replaced.signer.jwks)
      const { token } = yield* replaced.signer.sign({ userId, familyId })
      expect(jose.decodeProtectedHeader(token).kid).toBe("herald-1")
      expect((yield* Effect.flip(verifier.verify(token)))._tag).toBe("Unauthorized")
      expect(yield* Ref.get(fetches)).toBe(1)
      yield* Effect.sleep("350 millis")
      expect((yield* verifier.verify(token)).userId).toBe(userId)
      expect(yield* Ref.get(fetches)).toBe(2)
      // Bad signatures under the known id do not make a fetch each: one per interval at most.
      const [header, payload] = token.split(".")
      yield* Effect.sleep("350 millis")
      for (let i = 0; i < 5; i++) {
        expect((yield* Effect.flip(verifier.verify(`${header}.${payload}.${b64(`forged-${i}`)}`)))._tag).toBe("Unauthorized")
      }
      expect(yield* Ref.get(fetches)).toBe(3)
    }))

  it.live("while the keys were never fetched, an unreachable key source is DependencyUnavailable, not Unauthorized", () =>
    Effect.gen(function*() {
      const signer = yield* TokenSigner.pipe(Effect.provide(layerSigner), Effect.provide(withConfig({})))
      const up = yield* Ref.make(false)
      const source = Effect.flatMap(Ref.get(up), (isUp) => isUp ? Effect.succeed(signer.jwks) : Effect.fail("connection refused"))
      const verifier = yield* makeVerifier(source, { refreshInterval: "300 millis" }).pipe(Effect.provide(withConfig({})))
      const { token } = yield* signer.sign({ userId, familyId })
      const down = yield* Effect.flip(verifier.verify(token))
      expect(down._tag).toBe("DependencyUnavailable")
      yield* Ref.set(up, true)
      expect((yield* verifier.verify(token)).userId).toBe(userId)
      // Once keys are held, a source that goes away again does not turn bad tokens into 503s.
      yield* Ref.set(up, false)
      expect((yield* Effect.flip(verifier.verify(`${token}x`)))._tag).toBe("Unauthorized")
    }))
})
