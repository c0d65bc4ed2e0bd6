import { type Call, field, request, type signUp, text } from "@herald/testing/Http"

type User = Awaited<ReturnType<typeof signUp>>

/** The family (login) an access token belongs to: its `fid` claim. */
const familyOf = (accessToken: string) => text(JSON.parse(Buffer.from(accessToken.split(".")[1] ?? "", "base64url").toString()), "fid")

/** A fresh login of `user`: a family of its own. */
export const login = async (base: string, user: User) => {
  const reply = await request(base, "/api/users/login", { body: { email: user.email, password: user.password } })
  if (reply.status !== 200) throw new Error(`login failed: ${reply.status} ${reply.text}`)
  const access = text(reply.body, "accessToken")
  return { access, refresh: text(reply.body, "refreshToken"), familyId: familyOf(access) }
}

/** A fresh login refreshed once: its first refresh token is spent, `current` is the live one. */
export const spentToken = async (base: string, user: User) => {
  const session = await login(base, user)
  const rotated = await request(base, "/api/users/refresh", { body: { refreshToken: session.refresh } })
  if (rotated.status !== 200) throw new Error(`refresh failed: ${rotated.status} ${rotated.text}`)
  return { spent: session.refresh, current: text(rotated.body, "refreshToken"), familyId: session.familyId }
}

export const reuse = (base: string, refreshToken: string, call: Omit<Call, "body"> = {}) =>
  request(base, "/api/users/refresh", { ...call, body: { refreshToken } })

/** The `security.session_revoked` notifications in the inbox of the holder of `token`. */
export const revokedNotices = async (base: string, token: string) => {
  const reply = await request(base, "/api/notifications?type=security.session_revoked&limit=100", { token })
  if (reply.status !== 200) throw new Error(`inbox failed: ${reply.status} ${reply.text}`)
  return field(reply.body, "items") as Array<unknown>
}

export const noticesOfFamily = (items: ReadonlyArray<unknown>, familyId: string) =>
  items.filter((item) => field(item, "data", "familyId") === familyId)
