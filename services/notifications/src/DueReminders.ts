import type { DependencyUnavailable } from "@herald/domain/Errors"
import type { DomainEvent, TaskAudience, TaskEvent, TaskWatchersChanged } from "@herald/domain/Events"
import { newNotificationId, ProjectId, TaskId, UserId } from "@herald/domain/Ids"
import { DocumentStore } from "@herald/infra/Store"
import { Clock, Data, Duration, Effect, Metric, Option, Schema } from "effect"
import { Memberships } from "./Memberships.ts"
import { newInboxState, type NotificationDoc } from "./NotificationRepo.ts"
import { DueReminderConfig, RetentionConfig } from "./NotificationsConfig.ts"
import { Notifier } from "./Notifier.ts"
import { reminderRecipients } from "./Recipients.ts"
import { renderReminder } from "./Render.ts"

const ReminderKind = Schema.Literal("due_soon", "overdue")
type ReminderKind = typeof ReminderKind.Type

/**
 * A reminder to fire at `fireAt`, as the task's event at `version` scheduled it. Immutable: a newer event inserts its
 * own timers and deletes the older ones, so the consumer and the scheduler only ever insert and delete.
 */
export const DueTimerDoc = Schema.Struct({
  _id: Schema.String,
  /** `taskId:dueDate:kind`: what fires once, whichever version of the task scheduled it. */
  firingId: Schema.String,
  taskId: TaskId,
  version: Schema.Int,
  kind: ReminderKind,
  fireAt: Schema.DateFromSelf,
  dueDate: Schema.DateFromSelf,
  title: Schema.String,
  projectId: Schema.NullOr(ProjectId),
  assigneeId: Schema.NullOr(UserId),
  watchers: Schema.Array(UserId),
  memberIds: Schema.Array(UserId),
  projectVersion: Schema.NullOr(Schema.Int)
})
export type DueTimerDoc = typeof DueTimerDoc.Type

/**
 * The newest version of each task that the timers follow: an older or repeated event changes nothing. Kept for
 * `NOTIFICATION_RETENTION` past its last event or its last timer, whichever is later (markers of old builds: always).
 */
export const DueTaskDoc = Schema.Struct({ _id: TaskId, version: Schema.Int, expiresAt: Schema.optional(Schema.DateFromSelf) })

/** A firing done: the unique claim per (task, due date, kind), kept for `NOTIFICATION_RETENTION` after it. */
export const DueFiredDoc = Schema.Struct({ _id: Schema.String, firedAt: Schema.DateFromSelf })

/** The events that carry a task as it now is: a change of watchers moves its reminders' recipients too. */
type TimedEvent = TaskEvent | TaskWatchersChanged

const isTimedEvent = (event: DomainEvent): event is TimedEvent =>
  event.type === "task.created" || event.type === "task.updated" || event.type === "task.deleted" ||
  event.type === "task.watchers_changed"

/** Events of tasks from before projects were shared carry no audience: a private task's only member is its creator. */
const audienceOf = (event: TimedEvent): TaskAudience | null =>
  event.data.audience ?? (event.data.task.projectId === null
    ? { watchers: [event.userId], memberIds: [event.userId], projectVersion: null }
    : null)

/** The notification id of a firing, the same at every attempt: a repeated firing is refused per recipient. */
export const reminderEventId = (firingId: string) => `reminder:${firingId}`

/** Another writer moved a task's version marker between this one's read and write. */
class TaskVersionRaced extends Data.TaggedError("TaskVersionRaced")<{ readonly taskId: string }> {}

const fired = Metric.counter("herald_due_reminders_fired_total", { description: "Due-date reminders fired (task.due_soon, task.overdue)" })

/** Timers read per round of the scheduler; a round reads again while it finds a full batch. */
const batchSize = 100

/**
 * Keeps due-date timers from task events (one writer per task) and fires those due: deliver, claim, delete, so a
 * crash in between only fires again, which the notifications' unique key makes harmless (see the README).
 */
export class DueReminders extends Effect.Service<DueReminders>()("Herald/DueReminders", {
  scoped: Effect.gen(function*() {
    const store = yield* DocumentStore
    const notifier = yield* Notifier
    const memberships = yield* Memberships
    const { lead } = yield* DueReminderConfig
    const retention = yield* RetentionConfig
    const timers = yield* store.collection({
      name: "due_timers",
      schema: DueTimerDoc,
      indexes: [{ keys: { fireAt: 1 } }, { keys: { taskId: 1 } }]
    })
    const tasks = yield* store.collection({
      name: "due_tasks",
      schema: DueTaskDoc,
      indexes: [{ keys: { expiresAt: 1 }, expireAfterSeconds: 0 }]
    })
    const firings = yield* store.collection({
      name: "due_firings",
      schema: DueFiredDoc,
      indexes: [{ keys: { firedAt: 1 }, expireAfterSeconds: Math.floor(Duration.toSeconds(retention)) }]
    })

    /** The timers a task event asks for: none once the task is done, deleted or has no due date. */
    const timersOf = (event: TimedEvent): ReadonlyArray<DueTimerDoc> => {
      const { task } = event.data
      const audience = audienceOf(event)
      if (event.type === "task.deleted" || task.status === "done" || task.dueDate === null || audience === null) return []
      const dueDate = task.dueDate
      const timer = (kind: ReminderKind, fireAt: Date): DueTimerDoc => {
        const firingId = `${task.id}:${dueDate.toISOString()}:${kind}`
        return {
          _id: `${firingId}@${event.aggregateVersion}`,
          firingId,
          taskId: task.id,
          version: event.aggregateVersion,
          kind,
          fireAt,
          dueDate,
          title: task.title,
          projectId: task.projectId,
          assigneeId: task.assigneeId,
          watchers: audience.watchers,
          memberIds: audience.memberIds,
          projectVersion: audience.projectVersion
        }
      }
      return [timer("due_soon", new Date(dueDate.getTime() - Duration.toMillis(lead))), timer("overdue", dueDate)]
    }

    const fire = (timer: DueTimerDoc, now: number) =>
      Effect.gen(function*() {
        const done = yield* firings.findOne({ _id: timer.firingId })
        // A timer a newer event replaced (its deletion lost to a race, or to a crash) never fires.
        const newest = yield* tasks.findOne({ _id: timer.taskId })
        const superseded = Option.isSome(newest) && newest.value.version > timer.version
        // Past its due date a `due_soon` says nothing the `overdue` does not (a scheduler that was down catches up).
        const stale = timer.kind === "due_soon" && timer.dueDate.getTime() <= now
        if (Option.isNone(done) && !superseded && !stale) {
          const known = timer.projectId === null ? Option.none() : yield* memberships.get(timer.projectId)
          const audience = { watchers: timer.watchers, memberIds: timer.memberIds, projectVersion: timer.projectVersion }
          const rendered = renderReminder(timer, now)
          const createdAt = new Date(now)
          const docs = yield* Effect.forEach(
            reminderRecipients(audience, timer.assigneeId, known, rendered.type),
            (recipient) =>
              Effect.map(newNotificationId, (id): NotificationDoc => ({
                _id: id,
                userId: recipient.userId,
                eventId: reminderEventId(timer.firingId),
                ...newInboxState(rendered.data),
                ...rendered,
                createdAt
              }))
          )
          yield* notifier.deliver(docs)
          yield* firings.insertOne({ _id: timer.firingId, firedAt: createdAt }).pipe(Effect.catchTag("DuplicateKey", () => Effect.void))
          yield* Metric.increment(fired)
        }
        yield* timers.deleteOne({ _id: timer._id })
      })

    /** Applies one task event to its task's timers, unless a newer version is known; the timers due already. */
    const track = (event: TimedEvent) =>
      Effect.gen(function*() {
        const taskId = event.data.task.id
        const wanted = timersOf(event)
        // A first version without a due date has nothing to do, and leaves nothing an older event could undo: no read.
        if (wanted.length === 0 && event.aggregateVersion === 1) return []
        const known = yield* tasks.findOne({ _id: taskId })
        if (Option.isSome(known) && known.value.version >= event.aggregateVersion) return []
        const claimed = wanted.length === 0
          ? []
          : yield* firings.find({ _id: { $in: wanted.map((timer) => timer.firingId) } })
        const fresh = wanted.filter((timer) => !claimed.some((claim) => claim._id === timer.firingId))
        if (fresh.length > 0) yield* timers.insertMany(fresh)
        yield* timers.deleteMany({ taskId, version: { $lt: event.aggregateVersion } })
        const now = yield* Clock.currentTimeMillis
        const lastFiring = Math.max(now, ...fresh.map((timer) => timer.fireAt.getTime()))
        const expiresAt = new Date(lastFiring + Duration.toMillis(retention))
        // A task's events have one writer (its project's mailbox) but for a move between projects: a race is retried.
        const written = Option.isNone(known)
          ? yield* tasks.insertOne({ _id: taskId, version: event.aggregateVersion, expiresAt }).pipe(
            Effect.as(true),
            Effect.catchTag("DuplicateKey", () => Effect.succeed(false))
          )
          : yield* Effect.map(
            tasks.updateOne({ _id: taskId, version: known.value.version }, { $set: { version: event.aggregateVersion, expiresAt } }),
            (result) => result.matched === 1
          )
        if (!written) return yield* Effect.fail(new TaskVersionRaced({ taskId }))
        return fresh.filter((timer) => timer.fireAt.getTime() <= now)
      }).pipe(
        Effect.retry({ while: (error) => error._tag === "TaskVersionRaced", times: 3 }),
        Effect.catchTags({ DuplicateKey: (error) => Effect.die(error), TaskVersionRaced: (error) => Effect.die(error) })
      )

    /** Fires every timer due at the current time, oldest first, a batch at a time; how many it fired. */
    const fireDue: Effect.Effect<number, DependencyUnavailable> = Effect.gen(function*() {
      let total = 0
      for (;;) {
        const now = yield* Clock.currentTimeMillis
        const due = yield* timers.find({ fireAt: { $lte: new Date(now) } }, { sort: { fireAt: 1 }, limit: batchSize })
        yield* Effect.forEach(due, (timer) => fire(timer, now), { concurrency: 8, discard: true })
        total += due.length
        if (due.length < batchSize) return total
      }
    })

    return {
      /**
       * Follows task events (in their project's order) into timers; those already due fire at once, so a task due
       * within the lead gets its `task.due_soon` with the event that set its due date.
       */
      track: (events: ReadonlyArray<DomainEvent>) =>
        Effect.gen(function*() {
          const due = yield* Effect.forEach(events.filter(isTimedEvent), track)
          const now = yield* Clock.currentTimeMillis
          yield* Effect.forEach(due.flat(), (timer) => fire(timer, now), { discard: true })
        }),
      fireDue,
      /** The timers waiting (for tests and the operator): by fire time. */
      pending: timers.find({}, { sort: { fireAt: 1 } })
    }
  }),
  dependencies: [Memberships.Default]
}) {}
