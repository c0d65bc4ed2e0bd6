import { describe, expect, it } from "@effect/vitest"
import { newNotificationId, UserId } from "@herald/domain/Ids"
import { mongoStore } from "@herald/testing/Env"
import * as Lease from "@herald/infra/Lease"
import { DocumentStore } from "@herald/infra/Store"
import { sweepExpired } from "@herald/infra/Ttl"
import { ConfigProvider, Context, Effect, Exit, Layer, Schema, Scope, SubscriptionRef, TestClock } from "effect"
import { newInboxState, NotificationRepo } from "../src/NotificationRepo.ts"

const day = 24 * 60 * 60 * 1000
const user = Schema.decodeSync(UserId)("usr_01J00000000000000000000000")
const settle = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 500)))

const notification = (createdAt: Date, label: string) =>
  Effect.map(newNotificationId, (_id) => ({
    _id,
    userId: user,
    eventId: `evt_${label}`,
    type: "task.created",
    title: label,
    body: label,
    data: {},
    ...newInboxState({}),
    createdAt
  }))

describe("retention", () => {
  it.scoped("NOTIFICATION_RETENTION removes exactly the notifications older than the limit (FerretDB: the leased sweep)", () =>
    Effect.gen(function*() {
      const start = new Date("2031-03-01T12:00:00.000Z").getTime()
      yield* TestClock.setTime(start)
      const context = yield* Layer.build(NotificationRepo.Default.pipe(Layer.provideMerge(mongoStore("retention"))))
      const repo = Context.get(context, NotificationRepo)
      // The sweep runs every minute: the next one is at `start` + 1 minute, the moment the ages below are taken at.
      const sweepAt = start + 60_000
      const limit = 90 * day
      const docs = yield* Effect.all([
        notification(new Date(sweepAt - limit - 1), "older-by-a-millisecond"),
        notification(new Date(sweepAt - limit - 30 * day), "much-older"),
        notification(new Date(sweepAt - limit), "exactly-the-limit"),
        notification(new Date(sweepAt - limit + 1), "younger-by-a-millisecond"),
        notification(new Date(sweepAt - day), "yesterday")
      ])
      yield* repo.insertMany(docs)
      yield* TestClock.adjust("1 minute")
      yield* settle
      const left = yield* repo.list(user, { limit: 100 })
      expect(left.items.map((n) => n.title).sort()).toEqual(["exactly-the-limit", "yesterday", "younger-by-a-millisecond"])
    }).pipe(Effect.withConfigProvider(ConfigProvider.fromJson({ NOTIFICATION_RETENTION: "90 days" }))))

  it.scoped("a sweep deletes nothing unless its copy holds the lease; of two copies one holds it, the other takes over when it goes", () =>
    Effect.gen(function*() {
      let calls = 0
      yield* sweepExpired([{ keys: { at: 1 }, expireAfterSeconds: 1 }], () => Effect.sync(() => ++calls), "1 seconds", Effect.succeed(false))
      yield* TestClock.adjust("5 seconds")
      expect(calls).toBe(0)

      const store = Context.get(yield* Layer.build(mongoStore("lease")), DocumentStore)
      const hold = Effect.provideService(Lease.hold("ttl-sweep:expiring", { ttl: "3 minutes" }), DocumentStore, store)
      const firstScope = yield* Scope.make()
      const first = yield* Scope.extend(hold, firstScope)
      const second = yield* hold
      expect([yield* SubscriptionRef.get(first.leading), yield* SubscriptionRef.get(second.leading)]).toEqual([true, false])
      yield* Scope.close(firstScope, Exit.void)
      yield* TestClock.adjust("1 minute")
      yield* settle
      expect(yield* SubscriptionRef.get(second.leading)).toBe(true)
    }))
})
