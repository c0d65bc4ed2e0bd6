import type { DependencyUnavailable } from "@herald/domain/Errors"
import { Clock, Context, Duration, Effect, Either, Layer, Schema } from "effect"
import { command, Redis } from "./Redis.ts"
import { sweepMap } from "./Ttl.ts"

/**
 * The records behind idempotent requests: a key is claimed with a lease, then replaced by the response to replay or
 * released; each remembers its request's fingerprint (packages/infra/README.md).
 */

/** A response as it is replayed: status, the headers worth replaying, and the body (base64). */
export const StoredResponse = Schema.Struct({
  status: Schema.Int,
  headers: Schema.Record({ key: Schema.String, value: Schema.String }),
  body: Schema.String
})
export type StoredResponse = typeof StoredResponse.Type

const Running = Schema.Struct({ state: Schema.Literal("running"), fingerprint: Schema.String, lease: Schema.String })
const Completed = Schema.Struct({ state: Schema.Literal("completed"), fingerprint: Schema.String, response: StoredResponse })
const Entry = Schema.parseJson(Schema.Union(Running, Completed))
const decodeEntry = Schema.decodeUnknownEither(Entry)
const encodeEntry = Schema.encodeSync(Entry)

/** Proof of holding a key: the exact running record, which `complete` and `release` compare before they write. */
export interface Lease {
  readonly record: string
  readonly fingerprint: string
}

export type Claim =
  | { readonly _tag: "Acquired"; readonly lease: Lease }
  | { readonly _tag: "Completed"; readonly response: StoredResponse }
  | { readonly _tag: "InFlight" }
  | { readonly _tag: "Mismatch" }

export class Idempotency extends Context.Tag("Herald/Idempotency")<Idempotency, {
  /** Claims `key` for a request with `fingerprint` for `leaseMs`, or says what an earlier request left there. */
  readonly claim: (key: string, fingerprint: string, leaseMs: number) => Effect.Effect<Claim, DependencyUnavailable>
  /** Replaces the lease by the response to replay, kept `ttlMs`; does nothing once the lease is no longer held. */
  readonly complete: (key: string, lease: Lease, response: StoredResponse, ttlMs: number) => Effect.Effect<void, DependencyUnavailable>
  /** Frees the key for a retry; does nothing once the lease is no longer held. */
  readonly release: (key: string, lease: Lease) => Effect.Effect<void, DependencyUnavailable>
}>() {}

const newLease = (fingerprint: string): Lease => ({
  record: encodeEntry({ state: "running", fingerprint, lease: crypto.randomUUID() }),
  fingerprint
})

const completed = (lease: Lease, response: StoredResponse) =>
  encodeEntry({ state: "completed", fingerprint: lease.fingerprint, response })

/** What a stored record means to a request with `fingerprint`; an unreadable record is treated as in flight. */
const interpret = (stored: string, fingerprint: string): Claim =>
  Either.match(decodeEntry(stored), {
    onLeft: (): Claim => ({ _tag: "InFlight" }),
    onRight: (entry): Claim =>
      entry.fingerprint !== fingerprint
        ? { _tag: "Mismatch" }
        : entry.state === "running"
        ? { _tag: "InFlight" }
        : { _tag: "Completed", response: entry.response }
  })

const claimScript = `
local current = redis.call('GET', KEYS[1])
if current then return current end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
`

const completeScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
`

const releaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

/** The records on Redis, shared by every gateway and surviving their restarts; `timeout` bounds each command. */
export const layerRedis = (options: { readonly timeout: Duration.DurationInput }) =>
  Layer.effect(
    Idempotency,
    Effect.map(Redis, (redis) => {
      const run = <A>(send: () => Promise<A>) => command(send, options.timeout)
      const at = (key: string) => `${redis.prefix}idem:${key}`
      return Idempotency.of({
        claim: (key, fingerprint, leaseMs) => {
          const lease = newLease(fingerprint)
          return Effect.map(
            run(() => redis.client.eval(claimScript, 1, at(key), lease.record, leaseMs)),
            (stored): Claim => typeof stored === "string" ? interpret(stored, fingerprint) : { _tag: "Acquired", lease }
          )
        },
        complete: (key, lease, response, ttlMs) =>
          Effect.asVoid(run(() => redis.client.eval(completeScript, 1, at(key), lease.record, completed(lease, response), ttlMs))),
        release: (key, lease) => Effect.asVoid(run(() => redis.client.eval(releaseScript, 1, at(key), lease.record)))
      })
    })
  )

/** The records of the embedded default, in process memory with the same semantics, swept as they expire. */
export const layerMemory: Layer.Layer<Idempotency> = Layer.scoped(
  Idempotency,
  Effect.gen(function*() {
    const records = new Map<string, { readonly value: string; readonly expiresAt: number }>()
    const live = (key: string, now: number) => {
      const record = records.get(key)
      return record !== undefined && record.expiresAt > now ? record.value : undefined
    }
    yield* sweepMap(records, (record, now) => record.expiresAt <= now)
    return Idempotency.of({
      claim: (key, fingerprint, leaseMs) =>
        Effect.map(Clock.currentTimeMillis, (now): Claim => {
          const stored = live(key, now)
          if (stored !== undefined) return interpret(stored, fingerprint)
          const lease = newLease(fingerprint)
          records.set(key, { value: lease.record, expiresAt: now + leaseMs })
          return { _tag: "Acquired", lease }
        }),
      complete: (key, lease, response, ttlMs) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          if (live(key, now) === lease.record) records.set(key, { value: completed(lease, response), expiresAt: now + ttlMs })
        }),
      release: (key, lease) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          if (live(key, now) === lease.record) records.delete(key)
        })
    })
  })
)
