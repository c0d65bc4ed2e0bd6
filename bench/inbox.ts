/**
 * Inbox bench: list and counts for a user with 100,000 notifications against one with 100, with FerretDB's `explain`
 * (bench/README.md). `npx tsx bench/inbox.ts [bigInbox=100000] [rounds=300]`.
 */
import { newNotificationId, ProjectId, ulidAt, UserId } from "@herald/domain/Ids"
import * as Mongo from "@herald/infra/Mongo"
import { newInboxState, type NotificationDoc, NotificationRepo } from "@herald/notifications/NotificationRepo"
import { startFerretDb } from "@herald/testing/FerretDb"
import { Effect, Layer, Redacted, Schema } from "effect"

const big = Number(process.argv[2] ?? 100_000)
const rounds = Number(process.argv[3] ?? 300)
const toUser = Schema.decodeSync(UserId)
const heavy = toUser(`usr_${ulidAt(Date.now())}`)
const light = toUser(`usr_${ulidAt(Date.now())}`)
const project = Schema.decodeSync(ProjectId)(`prj_${ulidAt(Date.now())}`)

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
const round2 = (n: number) => Math.round(n * 100) / 100

const ferret = await startFerretDb()
console.log(`FerretDB v1.24.2, ${ferret.backend} backend`)
const database = "inbox_bench"

const program = Effect.gen(function*() {
  const repo = yield* NotificationRepo
  const { db } = yield* Mongo.MongoDatabase
  const fill = (userId: UserId, count: number) =>
    Effect.gen(function*() {
      const started = Date.now()
      for (let offset = 0; offset < count; offset += 1_000) {
        const batch: Array<NotificationDoc> = []
        for (let i = offset; i < Math.min(count, offset + 1_000); i++) {
          const data = { projectId: i % 4 === 0 ? project : null }
          const state = newInboxState(data)
          // Most of a big inbox is read and seen, as in life; the newest few are not.
          const old = i < count - 50
          batch.push({
            _id: yield* newNotificationId,
            userId,
            eventId: `evt_${userId}_${i}`,
            type: i % 3 === 0 ? "task.updated" : "task.created",
            title: "Task created",
            body: `“task ${i}” was created.`,
            data,
            ...state,
            read: old,
            readAt: old ? new Date() : null,
            seen: old,
            archived: old && i % 10 === 0,
            createdAt: new Date()
          })
        }
        yield* repo.insertMany(batch)
      }
      console.log(`filled ${count} notifications for ${userId} in ${Date.now() - started} ms`)
    })
  yield* fill(light, 100)
  yield* fill(heavy, big)

  const measure = <A, E>(name: string, userId: UserId, run: Effect.Effect<A, E>) =>
    Effect.gen(function*() {
      for (let i = 0; i < 3; i++) yield* run
      const times: Array<number> = []
      // At most `rounds` samples or 30 seconds per query (at least 10): a scan of 100,000 documents takes seconds.
      const until = performance.now() + 30_000
      for (let i = 0; i < rounds && (i < 10 || performance.now() < until); i++) {
        const start = performance.now()
        yield* run
        times.push(performance.now() - start)
      }
      times.sort((a, b) => a - b)
      return { query: name, user: userId === heavy ? `${big} notifications` : "100 notifications", p50: round2(percentile(times, 50)), p99: round2(percentile(times, 99)), samples: times.length }
    })
  const queries = (userId: UserId): ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown>]> => [
    ["list (page of 20)", repo.list(userId, { limit: 20 })],
    ["list ?unread=true", repo.list(userId, { limit: 20, unread: true })],
    ["list ?projectId=", repo.list(userId, { limit: 20, projectId: project })],
    ["unread-count (unread + unseen)", repo.counts(userId)]
  ]
  const rows = []
  for (const userId of [light, heavy]) {
    for (const [name, run] of queries(userId)) rows.push(yield* measure(name, userId, run))
  }
  console.table(rows)

  // How FerretDB ran them: what it pushed down to PostgreSQL, and PostgreSQL's plan.
  const explain = (label: string, command: Record<string, unknown>) =>
    Effect.promise(() => db.command({ explain: command })).pipe(
      Effect.map((answer) => {
        const plan = JSON.stringify(answer.queryPlanner ?? answer).slice(0, 600)
        console.log(`${label}: filterPushdown=${String(answer.filterPushdown)} sortPushdown=${String(answer.sortPushdown)} limitPushdown=${String(answer.limitPushdown)}\n  ${plan}`)
      })
    )
  yield* explain("list", { find: "notifications", filter: { userId: heavy, archived: false }, sort: { _id: -1 }, limit: 21 })
  yield* explain("unread", { count: "notifications", query: { userId: heavy, archived: false, read: false } })
  yield* explain("unseen", { count: "notifications", query: { userId: heavy, archived: false, seen: false } })
})

await Effect.runPromise(
  program.pipe(
    Effect.provide(NotificationRepo.Default.pipe(
      Layer.provideMerge(Mongo.layerStore),
      Layer.provideMerge(Mongo.layerDatabase({ url: Redacted.make(ferret.url), database, connectRetries: 3 }))
    )),
    Effect.scoped
  )
).finally(() => ferret.stop())
