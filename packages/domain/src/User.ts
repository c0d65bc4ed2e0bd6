import { Schema } from "effect"
import { IsoDateTime, TrimmedText } from "./Common.ts"
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
)

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
)

export const UserName = TrimmedText(1, 100)

export class User extends Schema.Class<User>("User")({
  id: UserId,
  email: Schema.String,
  name: Schema.String,
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime
}) {}

export const RegisterRequest = Schema.Struct({ email: Email, password: Password, name: UserName })
export type RegisterRequest = typeof RegisterRequest.Type

// Login accepts any password length so that a wrong long password is an ordinary 401, not a hint; one over 72
// bytes can never be an account's password, so it is a wrong one (see Passwords.verify), never truncated.
export const LoginRequest = Schema.Struct({ email: Email, password: Schema.String.pipe(Schema.maxLength(1024)) })
export type LoginRequest = typeof LoginRequest.Type

export const RefreshToken = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(512))

export const RefreshRequest = Schema.Struct({ refreshToken: RefreshToken })

export const UpdateProfileRequest = Schema.Struct({ name: UserName })

export const TokenPair = Schema.Struct({
  accessToken: Schema.String,
  refreshToken: Schema.String,
  tokenType: Schema.Literal("Bearer"),
  expiresIn: Schema.Int.annotations({ description: "Seconds until the access token expires" })
})
export type TokenPair = typeof TokenPair.Type

export const RegisterResponse = Schema.Struct({ user: User })

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
export const Jwks = Schema.Struct({ keys: Schema.Array(Jwk) })
export type Jwks = typeof Jwks.Type
