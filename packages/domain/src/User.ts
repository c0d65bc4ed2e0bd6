import { Schema } from "effect"
import { Count, IsoDateTime, TrimmedText } from "./Common.ts"
import { UserId } from "./Ids.ts"

const utf8 = new TextEncoder()

/** An email address, trimmed and lower-cased before it is checked or stored. */
export const Email = Schema.transform(Schema.String.pipe(Schema.maxLength(320)), Schema.String, {
  strict: true,
  decode: (raw) => raw.trim().toLowerCase(),
  encode: (email) => email
}).pipe(
  Schema.pattern(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { message: () => "expected an email address" }),
  Schema.maxLength(254)
).annotations({
  jsonSchema: {
    type: "string",
    format: "email",
    maxLength: 320,
    description: "An email address; surrounding whitespace and case do not matter (it is trimmed and lower-cased)",
    examples: ["ada@example.com"]
  }
})

/** bcrypt reads at most this many bytes of a password; the rest would be silently ignored. */
export const maxPasswordBytes = 72

/** The one password-length rule of registration and login: what bcrypt reads in full, never a truncation. */
export const passwordBytes = (password: string): number => utf8.encode(password).length

/** bcrypt reads at most 72 bytes: longer passwords are refused rather than silently truncated. */
export const Password = Schema.String.pipe(
  Schema.filter((password) => {
    const bytes = passwordBytes(password)
    return bytes < 8
      ? "password must be at least 8 bytes"
      : bytes > maxPasswordBytes
      ? `password must be at most ${maxPasswordBytes} bytes (bcrypt's limit)`
      : true
  })
).annotations({
  jsonSchema: {
    type: "string",
    minLength: 8,
    maxLength: 72,
    description: "8 to 72 bytes in UTF-8 (bcrypt's limit, enforced rather than silently truncated)",
    examples: ["correct horse battery"]
  }
})

export const UserName = TrimmedText(1, 100, { description: "The name others see", examples: ["Ada Lovelace"] })

export class User extends Schema.Class<User>("User")({
  id: UserId,
  email: Schema.String.annotations({ description: "The account's email address, lower-cased", examples: ["ada@example.com"] }),
  name: Schema.String.annotations({ description: "The name others see", examples: ["Ada Lovelace"] }),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime
}, { description: "A user's profile" }) {}

export const RegisterRequest = Schema.Struct({ email: Email, password: Password, name: UserName }).annotations({
  description: "A new account",
  examples: [{ email: "ada@example.com", password: "correct horse battery", name: "Ada Lovelace" }]
})
export type RegisterRequest = typeof RegisterRequest.Type

// Login accepts any password length so that a wrong long password is an ordinary 401, not a hint; one over 72
// bytes can never be an account's password, so it is a wrong one (see Passwords.verify), never truncated.
export const LoginRequest = Schema.Struct({
  email: Email,
  password: Schema.String.pipe(Schema.maxLength(1024)).annotations({
    title: "Password",
    description: "The account's password",
    examples: ["correct horse battery"]
  })
}).annotations({ description: "Credentials", examples: [{ email: "ada@example.com", password: "correct horse battery" }] })
export type LoginRequest = typeof LoginRequest.Type

export const RefreshToken = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(512)).annotations({
  title: "Refresh token",
  description: "The `refreshToken` of the last token pair; each can be used once",
  examples: ["rt_fam_01J9Z3YQ7KWRC8V2T5X0F8M4PD.Zm9vYmFy"]
})

export const RefreshRequest = Schema.Struct({ refreshToken: RefreshToken }).annotations({
  description: "A refresh token",
  examples: [{ refreshToken: "rt_fam_01J9Z3YQ7KWRC8V2T5X0F8M4PD.Zm9vYmFy" }]
})

/** Who presented a refresh token, as the gateway saw them: told to the owner when a reuse revokes a login. */
export const SessionClient = Schema.Struct({
  ip: Schema.String.pipe(Schema.maxLength(64)),
  userAgent: Schema.NullOr(Schema.String.pipe(Schema.maxLength(256)))
})
export type SessionClient = typeof SessionClient.Type

export const UpdateProfileRequest = Schema.Struct({ name: UserName }).annotations({
  description: "The new profile fields",
  examples: [{ name: "Ada King" }]
})

export const TokenPair = Schema.Struct({
  accessToken: Schema.String.annotations({
    description: "A JWT to send as `Authorization: Bearer <accessToken>`",
    examples: ["eyJhbGciOiJFZERTQSIsImtpZCI6ImhlcmFsZC0xIn0.eyJzdWIiOiJ1c3JfMDFKOVozWVE3S1dSQzhWMlQ1WDBGOE00UEQifQ.c2lnbmF0dXJl"]
  }),
  refreshToken: Schema.String.annotations({
    description: "Trades for a new pair at POST /api/users/refresh, once",
    examples: ["rt_fam_01J9Z3YQ7KWRC8V2T5X0F8M4PD.Zm9vYmFy"]
  }),
  tokenType: Schema.Literal("Bearer"),
  expiresIn: Count("Seconds until the access token expires", 900)
}).annotations({ description: "A fresh access token and the refresh token that renews it" })
export type TokenPair = typeof TokenPair.Type

export const RegisterResponse = Schema.Struct({ user: User }).annotations({ description: "The new account" })

/** A JSON Web Key as published in the JWKS. */
export const Jwk = Schema.Struct({
  kty: Schema.String,
  kid: Schema.String,
  alg: Schema.String,
  use: Schema.optional(Schema.String),
  crv: Schema.optional(Schema.String),
  x: Schema.optional(Schema.String),
  y: Schema.optional(Schema.String)
})
export const Jwks = Schema.Struct({ keys: Schema.Array(Jwk) }).annotations({
  description: "The public keys that verify access tokens (RFC 7517)",
  examples: [{ keys: [{ kty: "OKP", kid: "herald-1", alg: "EdDSA", use: "sig", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" }] }]
})
export type Jwks = typeof Jwks.Type
