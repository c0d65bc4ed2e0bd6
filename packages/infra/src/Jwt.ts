import { type DependencyUnavailable, unavailable, Unauthorized } from "@herald/domain/Errors"
import { FamilyId, UserId } from "@herald/domain/Ids"
import type { Jwks } from "@herald/domain/User"
import { Clock, ConfigError, Context, Duration, Effect, Layer, Option, Redacted, Schema } from "effect"
import * as jose from "jose"
import { JwtConfig, SigningKeyConfig } from "./InfraConfig.ts"

/**
 * Access tokens: JWTs signed with Ed25519 (EdDSA), `typ: at+jwt` (RFC 9068), with `kid`, `iss`, `aud`, `sub`, `exp`,
 * `iat`, `jti` and the refresh-token family (`fid`) they were issued with. Verification pins the algorithm and the
 * type and checks issuer, audience, expiry and not-before.
 */

export const algorithm = "EdDSA"
const tokenType = "at+jwt"



export interface AccessClaims {
  readonly userId: UserId
  readonly familyId: FamilyId
  readonly tokenId: string
  readonly expiresAt: number
}

export class TokenSigner extends Context.Tag("Herald/TokenSigner")<TokenSigner, {
  readonly sign: (subject: { readonly userId: UserId; readonly familyId: FamilyId }) => Effect.Effect<{
    readonly token: string
    readonly expiresIn: number
  }>
  readonly jwks: Jwks
}>() {}

const PublicJwks = Schema.parseJson(
  Schema.Struct({
    keys: Schema.Array(Schema.Struct({
      kty: Schema.String,
      kid: Schema.String,
      alg: Schema.optional(Schema.String),
      crv: Schema.optional(Schema.String),
      x: Schema.optional(Schema.String)
    }))
  })
)

interface KeyParts {
  readonly kty?: string | undefined
  readonly crv?: string | undefined
  readonly x?: string | undefined
  readonly y?: string | undefined
}

/** The public members of a key, as published in the JWKS. */
const publicJwk = (key: KeyParts, kid: string) => ({
  kty: key.kty ?? "OKP",
  kid,
  alg: algorithm,
  use: "sig",
  ...(key.crv !== undefined ? { crv: key.crv } : {}),
  ...(key.x !== undefined ? { x: key.x } : {}),
  ...(key.y !== undefined ? { y: key.y } : {})
})

/** A published key in jose's terms, with only the members that are present. */
const toJose = (
  key: KeyParts & { readonly kid?: string | undefined; readonly alg?: string | undefined; readonly use?: string | undefined }
): jose.JWK => ({
  kty: key.kty ?? "OKP",
  ...(key.kid !== undefined ? { kid: key.kid } : {}),
  ...(key.alg !== undefined ? { alg: key.alg } : {}),
  ...(key.use !== undefined ? { use: key.use } : {}),
  ...(key.crv !== undefined ? { crv: key.crv } : {}),
  ...(key.x !== undefined ? { x: key.x } : {}),
  ...(key.y !== undefined ? { y: key.y } : {})
})

/** The signing key from configuration, or a fresh one (logged as such) when none is configured. */
export const layerSigner = Layer.effect(
  TokenSigner,
  Effect.gen(function*() {
    const config = yield* JwtConfig
    const keys = yield* SigningKeyConfig
    const privateKey = yield* Option.match(keys.privateKey, {
      onNone: () =>
        Effect.promise(() => jose.generateKeyPair(algorithm, { crv: "Ed25519", extractable: true })).pipe(
          Effect.map((pair) => pair.privateKey),
          Effect.tap(() =>
            Effect.logWarning(
              "JWT_PRIVATE_KEY is not set: generated an ephemeral Ed25519 signing key. Tokens will not survive a " +
                "restart and copies of the users service will not accept each other's tokens; set JWT_PRIVATE_KEY in production."
            )
          )
        ),
      onSome: (pem) =>
        Effect.tryPromise({
          try: () => jose.importPKCS8(Redacted.value(pem), algorithm, { extractable: true }),
          catch: () => ConfigError.InvalidData(["JWT_PRIVATE_KEY"], "Expected a PKCS#8 PEM Ed25519 private key")
        })
    })
    const jwk = yield* Effect.promise(() => jose.exportJWK(privateKey))
    const publicPart = { kty: jwk.kty, crv: jwk.crv, x: jwk.x }
    // A fresh key under a fixed name would be a different key under a `kid` verifiers already hold: the thumbprint
    // names exactly this key, so after a restart gateways see an unknown `kid` and fetch the new set.
    const thumbprint = yield* Effect.promise(() => jose.calculateJwkThumbprint(toJose(publicPart)))
    const kid = Option.isSome(keys.privateKey) ? Option.getOrElse(Option.filter(keys.keyId, (id) => id !== ""), () => thumbprint) : thumbprint
    if (Option.isNone(keys.privateKey) && Option.isSome(keys.keyId)) {
      yield* Effect.logWarning(`JWT_KEY_ID applies to a configured JWT_PRIVATE_KEY only: the generated key's id is ${kid}`)
    }
    const previous = yield* Option.match(keys.previousKeys, {
      onNone: () => Effect.succeed([]),
      onSome: (json) =>
        Schema.decodeUnknown(PublicJwks)(json).pipe(
          Effect.map((set) => set.keys.map((key) => publicJwk(key, key.kid))),
          Effect.mapError(() => ConfigError.InvalidData(["JWT_PREVIOUS_PUBLIC_KEYS"], "Expected a JWKS JSON document"))
        )
    })
    const jwks: Jwks = { keys: [publicJwk(publicPart, kid), ...previous.filter((key) => key.kid !== kid)] }
    const ttlSeconds = Math.max(1, Math.round(Duration.toSeconds(config.accessTokenTtl)))
    return TokenSigner.of({
      jwks,
      sign: ({ familyId, userId }) =>
        Effect.gen(function*() {
          const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
          const token = yield* Effect.promise(() =>
            new jose.SignJWT({ fid: familyId })
              .setProtectedHeader({ alg: algorithm, kid, typ: tokenType })
              .setIssuer(config.issuer)
              .setAudience(config.audience)
              .setSubject(userId)
              .setIssuedAt(now)
              .setNotBefore(now)
              .setExpirationTime(now + ttlSeconds)
              .setJti(crypto.randomUUID())
              .sign(privateKey)
          )
          return { token, expiresIn: ttlSeconds }
        })
    })
  })
)

const Claims = Schema.Struct({ sub: UserId, fid: FamilyId, jti: Schema.String, exp: Schema.Number })
const decodeClaims = Schema.decodeUnknownOption(Claims)

export class TokenVerifier extends Context.Tag("Herald/TokenVerifier")<TokenVerifier, {
  /** Fails with `DependencyUnavailable` only while no key set could be fetched yet: no token can be judged then. */
  readonly verify: (token: string) => Effect.Effect<AccessClaims, Unauthorized | DependencyUnavailable>
}>() {}

/**
 * Never refetch the key set more often than this for tokens the held keys refuse: a forged token costs at most one
 * small RPC per interval, and after the signer restarts with a new key its tokens are accepted within it.
 */
const defaultRefreshInterval = Duration.seconds(5)

/** How many verified tokens are remembered (a few hundred bytes each). */
const defaultVerifiedCacheSize = 10_000

/**
 * Verifies access tokens against a key set refetched when a token names an unknown key or fails its key's check (a
 * rotation); verified tokens are remembered by their text until they expire (packages/infra/README.md).
 */
export const makeVerifier = <E>(
  fetchJwks: Effect.Effect<Jwks, E>,
  options: { readonly refreshInterval?: Duration.DurationInput; readonly verifiedCacheSize?: number } = {}
) =>
  Effect.gen(function*() {
    const refreshInterval = Duration.decode(options.refreshInterval ?? defaultRefreshInterval)
    const verifiedCacheSize = options.verifiedCacheSize ?? defaultVerifiedCacheSize
    const verifiedTokens = new Map<string, AccessClaims>()
    const remember = (token: string, claims: AccessClaims) => {
      // A Map iterates in insertion order: the first key is the oldest entry.
      if (verifiedTokens.size >= verifiedCacheSize) {
        const oldest = verifiedTokens.keys().next()
        if (oldest.done !== true) verifiedTokens.delete(oldest.value)
      }
      verifiedTokens.set(token, claims)
    }
    const config = yield* JwtConfig
    let keySet: { readonly keys: ReturnType<typeof jose.createLocalJWKSet>; readonly fetchedAt: number } | undefined
    const refresh = (force: boolean) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        if (keySet !== undefined && (!force || now - keySet.fetchedAt < Duration.toMillis(refreshInterval))) return keySet.keys
        const jwks = yield* fetchJwks
        keySet = { keys: jose.createLocalJWKSet({ keys: jwks.keys.map(toJose) }), fetchedAt: now }
        return keySet.keys
      })
    const invalid = (message: string) => new Unauthorized({ message })
    const check = (token: string, keys: ReturnType<typeof jose.createLocalJWKSet>) =>
      Effect.tryPromise({
        try: () =>
          jose.jwtVerify(token, keys, {
            algorithms: [algorithm],
            typ: tokenType,
            issuer: config.issuer,
            audience: config.audience,
            requiredClaims: ["sub", "exp", "jti", "nbf"],
            clockTolerance: 5
          }),
        catch: (error) => error
      })
    return TokenVerifier.of({
      verify: (token) =>
        Effect.gen(function*() {
          const known = verifiedTokens.get(token)
          if (known !== undefined) {
            if (known.expiresAt * 1000 > (yield* Clock.currentTimeMillis)) return known
            verifiedTokens.delete(token)
          }
          const keys = yield* refresh(false).pipe(
            Effect.mapError(() => unavailable("users", "cannot fetch the keys that verify access tokens"))
          )
          const verified = yield* check(token, keys).pipe(
            Effect.catchIf(
              (error) => error instanceof jose.errors.JWKSNoMatchingKey || error instanceof jose.errors.JWSSignatureVerificationFailed,
              (error) =>
                refresh(true).pipe(
                  Effect.matchEffect({
                    onFailure: () => Effect.fail(error),
                    // Not refetched (too soon after the last fetch): the same keys would fail the same way.
                    onSuccess: (fresh) => fresh === keys ? Effect.fail(error) : check(token, fresh)
                  })
                )
            ),
            Effect.mapError((error) =>
              invalid(error instanceof jose.errors.JWTExpired ? "access token expired" : "invalid access token")
            )
          )
          const claims = yield* Option.match(decodeClaims(verified.payload), {
            onNone: () => Effect.fail(invalid("invalid access token")),
            onSome: Effect.succeed
          })
          const accepted: AccessClaims = { userId: claims.sub, familyId: claims.fid, tokenId: claims.jti, expiresAt: claims.exp }
          remember(token, accepted)
          return accepted
        })
    })
  })
