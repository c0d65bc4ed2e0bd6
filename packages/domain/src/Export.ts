import { Schema } from "effect"
import { Count, IsoDateTime } from "./Common.ts"
import { ExportId, pathIdOf, ProjectId } from "./Ids.ts"

export const ExportFormat = Schema.Literal("csv", "json").annotations({ description: "The file format", examples: ["csv"] })
export type ExportFormat = typeof ExportFormat.Type

export const ExportStatus = Schema.Literal("pending", "running", "completed", "failed").annotations({
  description: "`pending` until a worker takes it, `completed` once the file can be downloaded"
})
export type ExportStatus = typeof ExportStatus.Type

export class Export extends Schema.Class<Export>("Export")({
  id: ExportId,
  status: ExportStatus,
  format: ExportFormat,
  projectId: Schema.NullOr(ProjectId).annotations({ description: "The exported project; null when every task of the caller is exported" }),
  createdAt: IsoDateTime,
  completedAt: Schema.optional(IsoDateTime),
  expiresAt: IsoDateTime,
  taskCount: Schema.optional(Count("How many tasks the file holds", 42)),
  error: Schema.optional(Schema.String.annotations({ description: "Why the export failed", examples: ["the export could not be written"] }))
}, { description: "An export of tasks to a file, made in the background" }) {}

export const CreateExportRequest = Schema.Struct({
  format: ExportFormat,
  projectId: Schema.optional(pathIdOf("prj", "project").annotations({ description: "Export only this project's tasks (all of the caller's by default)" }))
}).annotations({ description: "What to export", examples: [{ format: "csv" }] })
export type CreateExportRequest = typeof CreateExportRequest.Type

export const ExportAccepted = Schema.Struct({ id: ExportId, status: Schema.Literal("pending") }).annotations({
  description: "The export was queued; poll GET /api/exports/{id} until it is completed"
})
