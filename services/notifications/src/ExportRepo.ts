import { ExportNotFound } from "@herald/domain/Errors"
import { Export, ExportFormat, ExportStatus } from "@herald/domain/Export"
import { ExportId, ProjectId, UserId } from "@herald/domain/Ids"
import type { DomainEventEncoded } from "@herald/domain/Events"
import * as Outbox from "@herald/infra/Outbox"
import { DocumentStore } from "@herald/infra/Store"
import { Effect, Option, Schema } from "effect"
import { ExportConfig } from "./NotificationsConfig.ts"


export const ExportDoc = Schema.Struct({
  _id: ExportId,
  userId: UserId,
  projectId: Schema.NullOr(ProjectId),
  format: ExportFormat,
  status: ExportStatus,
  /** The attempt now building the file; a newer attempt (after a worker died) takes over. */
  attempt: Schema.NullOr(Schema.String),
  /** The attempt whose chunks are the file. */
  fileAttempt: Schema.NullOr(Schema.String),
  taskCount: Schema.NullOr(Schema.Int),
  size: Schema.NullOr(Schema.Int),
  error: Schema.NullOr(Schema.String),
  createdAt: Schema.DateFromSelf,
  startedAt: Schema.NullOr(Schema.DateFromSelf),
  completedAt: Schema.NullOr(Schema.DateFromSelf),
  expiresAt: Schema.DateFromSelf,
  ...Outbox.outboxFields
})
export type ExportDoc = typeof ExportDoc.Type

/** A piece of an export's file: files live in the database in pieces, so any copy can serve them. */
export const ChunkDoc = Schema.Struct({
  _id: Schema.String,
  exportId: ExportId,
  attempt: Schema.String,
  seq: Schema.Int,
  data: Schema.String,
  expiresAt: Schema.DateFromSelf
})
export type ChunkDoc = typeof ChunkDoc.Type

export const toExport = (doc: ExportDoc): Export =>
  new Export({
    id: doc._id,
    status: doc.status,
    format: doc.format,
    projectId: doc.projectId,
    createdAt: doc.createdAt,
    expiresAt: doc.expiresAt,
    ...(doc.completedAt !== null ? { completedAt: doc.completedAt } : {}),
    ...(doc.taskCount !== null ? { taskCount: doc.taskCount } : {}),
    ...(doc.error !== null ? { error: doc.error } : {})
  })

const isExportId = Schema.is(ExportId)

export const chunkId = (exportId: string, attempt: string, seq: number) => `${exportId}:${attempt}:${String(seq).padStart(8, "0")}`

export class ExportRepo extends Effect.Service<ExportRepo>()("Herald/ExportRepo", {
  scoped: Effect.gen(function*() {
    const store = yield* DocumentStore
    const config = yield* ExportConfig
    const expireAfter = 0
    const exports = yield* store.collection({
      name: "exports",
      schema: ExportDoc,
      indexes: [{ keys: { userId: 1, _id: -1 } }, { keys: { outboxPending: 1 } }, { keys: { expiresAt: 1 }, expireAfterSeconds: expireAfter }]
    })
    const chunks = yield* store.collection({
      name: "export_chunks",
      schema: ChunkDoc,
      indexes: [{ keys: { exportId: 1, attempt: 1, seq: 1 } }, { keys: { expiresAt: 1 }, expireAfterSeconds: expireAfter }]
    })
    const notFound = () => new ExportNotFound({ message: "export not found" })

    const documents = Outbox.documents(exports, { isId: isExportId })

    return {
      ttl: config.ttl,
      outbox: documents.source("exports"),
      /** What a writer hands the relay: the export's pending events as written. */
      pendingOf: documents.pendingOf,
      /** Stores a new export with its job, the `export.requested` event. */
      create: (export_: Omit<ExportDoc, "outbox" | "outboxPending">, job: DomainEventEncoded) =>
        documents.insert(export_, [job]).pipe(Effect.catchTag("DuplicateKey", (error) => Effect.die(error))),
      /** Changes an export still at `expectedVersion` and records `events` with the change, in one write (`VersionMoved` otherwise). */
      write: documents.write,
      /** A piece of a file being built. */
      insertChunk: (chunk: ChunkDoc) => chunks.insertOne(chunk).pipe(Effect.catchTag("DuplicateKey", (error) => Effect.die(error))),
      /** The pieces an attempt built (a file that will not be one). */
      dropAttempt: (exportId: ExportId, attempt: string) => Effect.asVoid(chunks.deleteMany({ exportId, attempt })),
      /** The pieces of every attempt but `attempt` (whose file won). */
      dropOtherAttempts: (exportId: ExportId, attempt: string) => Effect.asVoid(chunks.deleteMany({ exportId, attempt: { $ne: attempt } })),
      find: (id: ExportId) => exports.findOne({ _id: id }),
      /** The caller's export, or 404 (another user's export included). */
      owned: (userId: UserId, id: string) =>
        (isExportId(id) ? exports.findOne({ _id: id }) : Effect.succeed(Option.none<ExportDoc>())).pipe(
          Effect.flatMap(Option.match({
            onNone: () => Effect.fail(notFound()),
            onSome: (doc) => (doc.userId === userId ? Effect.succeed(doc) : Effect.fail(notFound()))
          }))
        ),
      /** `count` pieces of a file from `seq` on. */
      chunksFrom: (exportId: ExportId, attempt: string, seq: number, count: number) =>
        chunks.find({ exportId, attempt, seq: { $gte: seq } }, { sort: { seq: 1 }, limit: count })
    }
  })
}) {}
