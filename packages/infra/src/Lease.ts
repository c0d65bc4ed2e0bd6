import { Clock, Duration, Effect, Option, Schedule, Schema, type Scope, SubscriptionRef } from "effect"
import { DocumentStore } from "./Store.ts"

const LeaseDoc = Schema.Struct({
  _id: Schema.String,
  holder: Schema.String,
  expiresAt: Schema.DateFromSelf
})

/**
 * Leadership among copies for work one of them should do (the outbox relay, TTL sweeps): claimed by a unique insert,
 * renewed by its holder, taken over once expired; a brief double lead must be harmless (consumers de-duplicate).
 */
export const hold = (name: string, options: { readonly ttl: Duration.DurationInput }) =>
  Effect.gen(function*() {
    const store = yield* DocumentStore
    const leases = yield* store.collection({ name: "leases", schema: LeaseDoc, indexes: [] })
    const me = crypto.randomUUID()
    const ttl = Duration.decode(options.ttl)
    const leading = yield* SubscriptionRef.make(false)

    const attempt = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const expiresAt = new Date(now + Duration.toMillis(ttl))
      const current = yield* leases.findOne({ _id: name })
      if (Option.isSome(current) && current.value.holder === me) {
        const renewed = yield* leases.updateOne({ _id: name, holder: me }, { $set: { expiresAt } })
        return renewed.matched === 1
      }
      if (Option.isSome(current)) {
        if (current.value.expiresAt.getTime() > now) return false
        yield* leases.deleteOne({ _id: name, holder: current.value.holder, expiresAt: current.value.expiresAt })
      }
      return yield* leases.insertOne({ _id: name, holder: me, expiresAt }).pipe(
        Effect.as(true),
        Effect.catchTag("DuplicateKey", () => Effect.succeed(false))
      )
    }).pipe(Effect.orElseSucceed(() => false))

    // The first claim is made before returning, so a caller knows at once whether it leads.
    const claim = Effect.flatMap(attempt, (held) => SubscriptionRef.set(leading, held))
    yield* claim
    yield* Effect.sleep(Duration.divide(ttl, 3).pipe(Option.getOrElse(() => ttl))).pipe(
      Effect.zipRight(claim),
      Effect.forever,
      Effect.forkScoped
    )
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(SubscriptionRef.set(leading, false), leases.deleteOne({ _id: name, holder: me }).pipe(Effect.ignore))
    )
    return { leading, holder: me }
  }) satisfies Effect.Effect<unknown, unknown, DocumentStore | Scope.Scope>

/**
 * A leased job: `round` now and then every `every`, in the copy holding the lease `name` only (another copy takes over
 * within `ttl`); a failed round is logged and the next one tries again.
 */
export const repeatWhileLeading = <A, E, R>(
  name: string,
  options: { readonly ttl: Duration.DurationInput; readonly every: Duration.DurationInput },
  round: Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const { leading } = yield* hold(name, { ttl: options.ttl })
    yield* round.pipe(
      Effect.whenEffect(SubscriptionRef.get(leading)),
      Effect.catchAllCause((cause) => Effect.logWarning(`${name}: a round failed; the next one tries again`, cause)),
      Effect.repeat(Schedule.spaced(options.every)),
      Effect.forkScoped
    )
  })
