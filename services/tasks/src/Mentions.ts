import type { Mention } from "@herald/domain/Comment"
import type { UserId } from "@herald/domain/Ids"

/** A member as mentions see them. */
export interface Mentionable {
  readonly userId: UserId
  readonly name: string
  readonly email: string
}

const boundary = /[\s.,;:!?()[\]{}"'’]/

const endsAt = (body: string, end: number) => end === body.length || boundary.test(body.charAt(end))

/**
 * The mentions in a comment: `@email` or `@name` of a member (the longest that matches wins; a first name alone also
 * counts), each written once. A name that several members share mentions nobody and is reported as ambiguous.
 */
export const parseMentions = (body: string, members: ReadonlyArray<Mentionable>): ReadonlyArray<Mention> => {
  const found = new Map<string, Mention>()
  const lower = body.toLowerCase()
  for (let at = lower.indexOf("@"); at >= 0; at = lower.indexOf("@", at + 1)) {
    if (at > 0 && !boundary.test(lower.charAt(at - 1))) continue
    const rest = lower.slice(at + 1)
    const candidates = (key: (m: Mentionable) => string) => {
      const matches = members.filter((m) => {
        const text = key(m).toLowerCase()
        return text !== "" && rest.startsWith(text) && endsAt(lower, at + 1 + text.length)
      })
      const longest = Math.max(0, ...matches.map((m) => key(m).length))
      return { users: matches.filter((m) => key(m).length === longest), length: longest }
    }
    const byEmail = candidates((m) => m.email)
    const byName = byEmail.users.length > 0 ? byEmail : candidates((m) => m.name)
    const chosen = byName.users.length > 0 ? byName : candidates((m) => m.name.split(/\s+/)[0] ?? "")
    const users = [...new Map(chosen.users.map((m) => [m.userId, m])).values()]
    if (users.length === 0) continue
    const text = body.slice(at, at + 1 + chosen.length)
    const key = text.toLowerCase()
    const only = users.length === 1 ? users[0] : undefined
    if (!found.has(key)) found.set(key, { text, userId: only?.userId ?? null, ambiguous: only === undefined })
  }
  return [...found.values()]
}
