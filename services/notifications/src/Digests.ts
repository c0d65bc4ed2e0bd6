import type { UserId } from "@herald/domain/Ids"
import type { DependencyUnavailable } from "@herald/domain/Errors"
import * as Lease from "@herald/infra/Lease"
import { Clock, Effect, Option } from "effect"
import { type DigestItemDoc, type EmailItem, EmailOutbox, type EmailRecord } from "./EmailOutbox.ts"
import { quietUntil } from "./EmailSchedule.ts"
import { DigestConfig } from "./NotificationsConfig.ts"

/** Due items read per round; a full batch is followed at once by another. */
const batchSize = 500
/** Batches per poll at most: the next poll goes on. */
const maxRounds = 100
/** Windows composed side by side (each its own user's documents). */
const composeConcurrency = 8

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`

const newestFirst = (a: DigestItemDoc, b: DigestItemDoc) =>
  b.item.createdAt.getTime() - a.item.createdAt.getTime() || (a._id < b._id ? 1 : a._id > b._id ? -1 : 0)

/**
 * The digest of one window's items: grouped by project (the project with the newest item first, items without a
 * project as one more group), newest first inside each, with a count per group and in all.
 */
const composeDigest = (
  id: string,
  userId: UserId,
  window: { readonly start: Date; readonly end: Date },
  pending: ReadonlyArray<DigestItemDoc>,
  sendAt: Date,
  createdAt: Date
): EmailRecord => {
  const groups = new Map<string | null, Array<DigestItemDoc>>()
  for (const doc of [...pending].sort(newestFirst)) {
    const group = groups.get(doc.item.projectId)
    if (group === undefined) groups.set(doc.item.projectId, [doc])
    else group.push(doc)
  }
  const ordered = [...groups.entries()]
  const line = (item: EmailItem) => `- ${item.createdAt.toISOString()} ${item.title}: ${item.body}`
  const text = [
    `${plural(pending.length, "notification")} from ${window.start.toISOString()} to ${window.end.toISOString()}`,
    ...ordered.flatMap(([projectId, docs]) => [
      "",
      `${projectId === null ? "Not in a project" : `Project ${projectId}`}: ${plural(docs.length, "notification")}`,
      ...docs.map((doc) => line(doc.item))
    ])
  ].join("\n")
  const listed = ordered.flatMap(([, docs]) => docs)
  return {
    _id: id,
    userId,
    kind: "digest",
    subject: `Herald digest: ${plural(pending.length, "notification")}${ordered.length > 1 ? ` in ${ordered.length} groups` : ""}`,
    text,
    items: listed.map((doc) => doc.item),
    itemKeys: listed.map((doc) => doc._id),
    sendAt,
    createdAt,
    status: "ready"
  }
}

/**
 * Composes closed windows: one digest per (user, window), claimed by a unique insert, then its items marked; a repeat
 * composes only the rest, as a follow-up (the README's "Email records").
 */
export class Digests extends Effect.Service<Digests>()("Herald/Digests", {
  effect: Effect.gen(function*() {
    const outbox = yield* EmailOutbox

    const sendAtOf = (closesAt: Date, pending: ReadonlyArray<DigestItemDoc>, now: number) => {
      const quiet = [...pending].sort(newestFirst)[0]?.quietHours ?? null
      const held = quietUntil(now, quiet)
      // Due at the window's end (after quiet hours); composed late, during quiet hours, at their end.
      return new Date(Math.max(quietUntil(closesAt.getTime(), quiet), held > now ? held : 0))
    }

    const claimFrom = (
      userId: UserId,
      window: { readonly start: Date; readonly end: Date },
      pending: ReadonlyArray<DigestItemDoc>,
      sequence: number,
      now: number
    ): Effect.Effect<number, DependencyUnavailable> =>
      Effect.gen(function*() {
        if (pending.length === 0) return 0
        const id = `digest:${userId}:${window.start.toISOString()}:${sequence}`
        const digest = composeDigest(id, userId, window, pending, sendAtOf(window.end, pending, now), new Date(now))
        if (yield* outbox.claim(digest)) {
          yield* outbox.markComposed(digest.itemKeys, id)
          return 1
        }
        const listed = new Set(Option.match(yield* outbox.find(id), { onNone: () => [], onSome: (found) => found.itemKeys }))
        const done = pending.filter((doc) => listed.has(doc._id)).map((doc) => doc._id)
        if (done.length > 0) yield* outbox.markComposed(done, id)
        return yield* claimFrom(userId, window, pending.filter((doc) => !listed.has(doc._id)), sequence + 1, now)
      })

    const composeWindow = (userId: UserId, windowStart: Date, now: number) =>
      Effect.gen(function*() {
        const pending = (yield* outbox.pendingIn(userId, windowStart)).filter((doc) => doc.closesAt.getTime() <= now)
        const first = pending[0]
        if (first === undefined) return 0
        return yield* claimFrom(userId, { start: windowStart, end: first.closesAt }, pending, 1, now)
      })

    const round = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const due = yield* outbox.dueItems(new Date(now), batchSize)
      const windows = new Map<string, { readonly userId: UserId; readonly windowStart: Date }>()
      for (const doc of due) windows.set(`${doc.userId}:${doc.windowStart.getTime()}`, { userId: doc.userId, windowStart: doc.windowStart })
      const composed = yield* Effect.forEach(windows.values(), ({ userId, windowStart }) => composeWindow(userId, windowStart, now), {
        concurrency: composeConcurrency
      })
      return { composed: composed.reduce((sum, count) => sum + count, 0), full: due.length === batchSize }
    })

    return {
      /** Composes every closed window's digest (a bounded number of batches per call); how many digests it recorded. */
      composeDue: Effect.iterate({ composed: 0, full: true, rounds: 0 }, {
        while: (state) => state.full && state.rounds < maxRounds,
        body: (state) =>
          Effect.map(round, (result) => ({ composed: state.composed + result.composed, full: result.full, rounds: state.rounds + 1 }))
      }).pipe(Effect.map((state) => state.composed))
    }
  }),
  dependencies: [EmailOutbox.Default]
}) {}

/** The digest job: every `EMAIL_DIGEST_INTERVAL`, the copy holding the `email-digests` lease composes what is due. */
export const runDigests = Effect.gen(function*() {
  const digests = yield* Digests
  const { interval } = yield* DigestConfig
  yield* Lease.repeatWhileLeading("email-digests", { ttl: "30 seconds", every: interval }, digests.composeDue)
})
