import { Clock, Effect, Option, Schema } from "effect"

// Crockford's base32, as in ULID: time-sortable, URL-safe, case-insensitive-safe.
const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
const ulidBody = "[0-9A-HJKMNP-TV-Z]{26}"

const encodeTime = (millis: number): string => {
  let out = ""
  let rest = millis
  for (let i = 0; i < 10; i++) {
    out = alphabet.charAt(rest % 32) + out
    rest = Math.floor(rest / 32)
  }
  return out
}

const encodeRandom = (): string => {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  let out = ""
  for (const byte of bytes) out += alphabet.charAt(byte % 32)
  return out
}

/** A ULID for the given time: 48 bits of milliseconds then 80 random bits, so ids sort by creation time. */
export const ulidAt = (millis: number): string => encodeTime(millis) + encodeRandom()

/** The id prefixes: a reader knows what an id names from its first four characters. */
export const prefixes = {
  user: "usr",
  project: "prj",
  task: "tsk",
  notification: "ntf",
  export: "exp",
  event: "evt",
  comment: "cmt",
  family: "fam"
} as const

/** The id of an example resource in the OpenAPI document, e.g. `tsk_01J9Z3YQ7KWRC8V2T5X0F8M4PD`. */
export const exampleId = (prefix: string) => `${prefix}_01J9Z3YQ7KWRC8V2T5X0F8M4PD`

const idSchema = <const Brand extends string>(prefix: string, brand: Brand, noun: string) =>
  Schema.String.pipe(
    Schema.pattern(new RegExp(`^${prefix}_${ulidBody}$`)),
    Schema.brand(brand),
    Schema.annotations({
      description: `The ${noun}'s id: \`${prefix}_\` then a ULID (time-sortable)`,
      examples: [Schema.decodeSync(Schema.String.pipe(Schema.brand(brand)))(exampleId(prefix))]
    })
  )

export const UserId = idSchema(prefixes.user, "UserId", "user")
export type UserId = typeof UserId.Type
export const ProjectId = idSchema(prefixes.project, "ProjectId", "project")
export type ProjectId = typeof ProjectId.Type
export const TaskId = idSchema(prefixes.task, "TaskId", "task")
export type TaskId = typeof TaskId.Type
export const NotificationId = idSchema(prefixes.notification, "NotificationId", "notification")
export type NotificationId = typeof NotificationId.Type
export const ExportId = idSchema(prefixes.export, "ExportId", "export")
export type ExportId = typeof ExportId.Type
export const EventId = idSchema(prefixes.event, "EventId", "event")
export type EventId = typeof EventId.Type
export const CommentId = idSchema(prefixes.comment, "CommentId", "comment")
export type CommentId = typeof CommentId.Type
export const FamilyId = idSchema(prefixes.family, "FamilyId", "login session (token family)")
export type FamilyId = typeof FamilyId.Type

/** The next random part in base32 order, or `undefined` when it is all `Z`. */
const incrementRandom = (random: string): string | undefined => {
  for (let i = random.length - 1; i >= 0; i--) {
    const digit = alphabet.indexOf(random.charAt(i))
    if (digit < alphabet.length - 1) return random.slice(0, i) + alphabet.charAt(digit + 1) + alphabet.charAt(0).repeat(random.length - i - 1)
  }
  return undefined
}

const generator = <A>(prefix: string, schema: Schema.Schema<A, string>): Effect.Effect<A> => {
  const make = Schema.decodeSync(schema)
  // Monotonic within the process (ULID's monotonic mode): ids made in one millisecond, as a batch of notifications
  // is, still sort in the order they were made; a clock that steps back does not reorder them either.
  let last = { millis: -1, random: "" }
  return Effect.map(Clock.currentTimeMillis, (now) => {
    const next = now > last.millis ? undefined : incrementRandom(last.random)
    last = next === undefined ? { millis: Math.max(now, last.millis + 1), random: encodeRandom() } : { millis: last.millis, random: next }
    return make(`${prefix}_${encodeTime(last.millis)}${last.random}`)
  })
}

/** Fresh ids, stamped with the current `Clock` time. */
export const newUserId = generator(prefixes.user, UserId)
export const newProjectId = generator(prefixes.project, ProjectId)
export const newTaskId = generator(prefixes.task, TaskId)
export const newNotificationId = generator(prefixes.notification, NotificationId)
export const newExportId = generator(prefixes.export, ExportId)
export const newEventId = generator(prefixes.event, EventId)
export const newCommentId = generator(prefixes.comment, CommentId)
export const newFamilyId = generator(prefixes.family, FamilyId)

/**
 * A path parameter naming a resource. Any string is accepted so that a malformed id is simply a resource that does
 * not exist (404), as clients of a REST API expect; repositories check the format before touching the database.
 */
export const PathId = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)).annotations({
  title: "Id",
  description: "The id of a resource (an unknown or malformed one is answered 404)"
})

/** `PathId` for one kind of resource, described and exemplified for the OpenAPI document. */
export const pathIdOf = (prefix: string, noun: string) =>
  PathId.annotations({ title: `${noun} id`, description: `The ${noun}'s id (\`${prefix}_…\`)`, examples: [exampleId(prefix)] })

/** Narrows a path parameter to a typed id, or `None` when it cannot name anything. */
export const parseId = <A>(schema: Schema.Schema<A, string>) => {
  const is = Schema.is(schema)
  return (raw: string): Option.Option<A> => (is(raw) ? Option.some(raw) : Option.none())
}
