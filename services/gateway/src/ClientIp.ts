import { isIPv4, isIPv6 } from "node:net"

/**
 * The client's address: the socket's peer, or, behind `trustedHops` proxies, the entry of `X-Forwarded-For` that
 * the outermost trusted proxy appended. Entries to the left of it were written by the client and are never used.
 */
export const clientAddress = (remote: string | undefined, forwardedFor: string | undefined, trustedHops: number): string => {
  const forwarded = trustedHops > 0 && forwardedFor !== undefined
    ? forwardedFor.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "")
    : []
  const chain = [...forwarded, remote ?? "unknown"]
  return chain[Math.max(0, chain.length - 1 - trustedHops)] ?? "unknown"
}

const expandIPv6 = (address: string): Array<string> => {
  const [head = "", tail] = address.split("::")
  const left = head === "" ? [] : head.split(":")
  const right = tail === undefined || tail === "" ? [] : tail.split(":")
  const middle = Array.from({ length: Math.max(0, 8 - left.length - right.length) }, () => "0")
  return [...left, ...(tail === undefined ? [] : middle), ...right].map((group) => group.padStart(4, "0").toLowerCase())
}

/**
 * The rate-limit key of an address: IPv4 as is (IPv4-mapped IPv6 included), IPv6 by its /64 prefix, since one
 * client usually holds a whole /64. Anything else (a malformed proxy header) is used verbatim, bounded in length.
 */
export const limitKey = (address: string): string => {
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "")
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)
  if (mapped?.[1] !== undefined) return mapped[1]
  if (isIPv4(bare)) return bare
  if (isIPv6(bare)) return `${expandIPv6(bare).slice(0, 4).join(":")}::/64`
  return bare.slice(0, 64)
}
