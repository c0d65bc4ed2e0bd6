import { encodeEvent, envelopeOf, type ExportRequested } from "@herald/domain/Events"
import { ExportNotReady } from "@herald/domain/Errors"
import type { ExportFormat } from "@herald/domain/Export"
import { type ExportId, newExportId, type ProjectId, type UserId } from "@herald/domain/Ids"
import type { Task } from "@herald/domain/Task"
import { callTasks, TasksClient } from "@herald/infra/ServiceClients"
import { Clock, Duration, Effect, Option, Stream } from "effect"
import { fileEnd, fileStart, row } from "./ExportFile.ts"
import { chunkId, type ExportDoc, ExportRepo, toExport } from "./ExportRepo.ts"
import { ExportConfig } from "./NotificationsConfig.ts"
import { ExportsRelay } from "./Messaging.ts"
import { WriteLock } from "./WriteLock.ts"

/**
 * Asynchronous exports: the export and its job are one write; a worker builds the file page by page into chunks under
 * a fresh attempt id and completes only if its attempt is still current, so at most one attempt's file survives.
 */
export class Exports extends Effect.Service<Exports>()("Herald/Exports", {
  effect: Effect.gen(function*() {
    const repo = yield* ExportRepo
    const tasks = yield* TasksClient
    const { withLock } = yield* WriteLock
    const relay = yield* ExportsRelay
    const config = yield* ExportConfig
    const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis))

    /** Writes a change to an export under its lock, with an event in its outbox when given. */
    const transition = (
      id: ExportId,
      guard: (doc: ExportDoc) => boolean,
      change: (doc: ExportDoc) => Effect.Effect<{ readonly set: Partial<ExportDoc>; readonly event?: ExportDoc["outbox"][number] }>
    ) =>
      withLock(id)(
        Effect.gen(function*() {
          const current = yield* repo.find(id)
          if (Option.isNone(current) || !guard(current.value)) return false
          const { event, set } = yield* change(current.value)
          const written = yield* repo.write(id, current.value.version, set, event === undefined ? [] : [event])
          if (event !== undefined) yield* relay.nudgeDocument("exports", repo.pendingOf(written))
          return true
        }).pipe(
          // Another copy changed it first: this change is not made (the caller reads the outcome).
          Effect.catchTag("VersionMoved", () => Effect.succeed(false))
        )
      )

    const fail = (doc: ExportDoc, reason: string) =>
      transition(doc._id, (current) => current.status === "pending" || current.status === "running", (current) =>
        Effect.gen(function*() {
          const envelope = yield* envelopeOf(current._id, current.version + 1, current.userId)
          return {
            set: { status: "failed" as const, error: reason, completedAt: yield* now, attempt: null },
            event: encodeEvent({ ...envelope, type: "export.failed", data: { exportId: current._id, format: current.format, error: reason } })
          }
        }))

    /** Builds the file of an export under `attempt`; its chunks are the file if the attempt completes. */
    const build = (doc: ExportDoc, attempt: string) =>
      Effect.gen(function*() {
        let buffer = fileStart(doc.format)
        let seq = 0
        let count = 0
        let size = 0
        const flush = Effect.suspend(() => {
          const data = buffer
          buffer = ""
          size += Buffer.byteLength(data)
          const piece = { _id: chunkId(doc._id, attempt, seq), exportId: doc._id, attempt, seq, data, expiresAt: doc.expiresAt }
          seq += 1
          return repo.insertChunk(piece)
        })
        let after: string | null = null
        do {
          const page: { readonly tasks: ReadonlyArray<Task>; readonly last: string | null } = yield* callTasks(
            tasks.ExportPage({ userId: doc.userId, projectId: doc.projectId, after, limit: config.pageSize })
          )
          for (const task of page.tasks) {
            buffer += row(doc.format, task, count === 0)
            count += 1
          }
          if (buffer.length >= config.chunkBytes) yield* flush
          after = page.last
        } while (after !== null)
        buffer += fileEnd(doc.format)
        yield* flush
        return { count, size }
      })

    const run = (exportId: ExportId) =>
      Effect.gen(function*() {
        const found = yield* repo.find(exportId)
        if (Option.isNone(found) || found.value.status === "completed" || found.value.status === "failed") return
        const attempt = crypto.randomUUID()
        const claimed = yield* transition(exportId, (doc) => doc.status === "pending" || doc.status === "running", () =>
          Effect.map(now, (startedAt) => ({ set: { status: "running" as const, attempt, startedAt } })))
        if (!claimed) return
        const doc = { ...found.value, attempt }
        const built = yield* build(doc, attempt).pipe(
          Effect.map(Option.some),
          // The project went away meanwhile: nothing to retry; the export fails and says why.
          Effect.catchTag("ProjectNotFound", () => Effect.as(fail(doc, "the project no longer exists"), Option.none()))
        )
        if (Option.isNone(built)) return yield* repo.dropAttempt(exportId, attempt)
        const completed = yield* transition(exportId, (current) => current.status === "running" && current.attempt === attempt, (current) =>
          Effect.gen(function*() {
            const envelope = yield* envelopeOf(current._id, current.version + 1, current.userId)
            return {
              set: {
                status: "completed" as const,
                fileAttempt: attempt,
                taskCount: built.value.count,
                size: built.value.size,
                completedAt: yield* now
              },
              event: encodeEvent({
                ...envelope,
                type: "export.completed",
                data: {
                  exportId: current._id,
                  format: current.format,
                  taskCount: built.value.count,
                  downloadPath: `/api/exports/${current._id}/download`
                }
              })
            }
          }))
        // Only one attempt's file survives: the winner removes the others', a loser its own.
        yield* completed
          ? repo.dropOtherAttempts(exportId, attempt)
          : repo.dropAttempt(exportId, attempt)
        if (completed) yield* Effect.logInfo(`export ${exportId} completed: ${built.value.count} tasks`)
      })

    return {
      create: (userId: UserId, format: ExportFormat, projectId: ProjectId | null) =>
        Effect.gen(function*() {
          const createdAt = yield* now
          const id = yield* newExportId
          const job: ExportRequested = {
            ...(yield* envelopeOf(id, 1, userId)),
            type: "export.requested",
            data: { exportId: id, format, projectId }
          }
          const doc = yield* repo.create({
            _id: id,
            userId,
            projectId,
            format,
            status: "pending",
            attempt: null,
            fileAttempt: null,
            taskCount: null,
            size: null,
            error: null,
            version: 1,
            createdAt,
            startedAt: null,
            completedAt: null,
            expiresAt: new Date(createdAt.getTime() + Duration.toMillis(repo.ttl))
          }, encodeEvent(job))
          yield* relay.nudgeDocument("exports", repo.pendingOf(doc))
          return toExport(doc)
        }),
      get: (userId: UserId, id: string) => Effect.map(repo.owned(userId, id), toExport),
      /** The file, a few chunks at a time; 409 until the export is completed. */
      download: (userId: UserId, id: string) =>
        Stream.unwrap(
          Effect.gen(function*() {
            const doc = yield* repo.owned(userId, id)
            if (doc.status !== "completed" || doc.fileAttempt === null) {
              return yield* Effect.fail(
                new ExportNotReady({ message: `export is ${doc.status}, not completed`, details: { status: doc.status } })
              )
            }
            const attempt = doc.fileAttempt
            return Stream.paginateEffect(0, (seq) =>
              Effect.map(repo.chunksFrom(doc._id, attempt, seq, 4), (pieces) => {
                const last = pieces[pieces.length - 1]
                return [pieces.map((piece) => piece.data), pieces.length === 4 && last !== undefined ? Option.some(last.seq + 1) : Option.none()] as const
              })).pipe(Stream.flatMap(Stream.fromIterable))
          })
        ),
      run,
      fail
    }
  })
}) {}
