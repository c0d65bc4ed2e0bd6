import { Schema } from "effect"
import { IsoDateTime } from "./Common.ts"
import { ExportId, PathId, ProjectId } from "./Ids.ts"

export const ExportFormat = Schema.Literal("csv", "json")
export type ExportFormat = typeof ExportFormat.Type

export const ExportStatus = Schema.Literal("pending", "running", "completed", "failed")
export type ExportStatus = typeof ExportStatus.Type

export class Export extends Schema.Class<Export>("Export")({
  id: ExportId,
  status: ExportStatus,
  format: ExportFormat,
  projectId: Schema.NullOr(ProjectId),
  createdAt: IsoDateTime,
  completedAt: Schema.optional(IsoDateTime),
  expiresAt: IsoDateTime,
  taskCount: Schema.optional(Schema.Int),
  error: Schema.optional(Schema.String)
}) {}

export const CreateExportRequest = Schema.Struct({
  format: ExportFormat,
  projectId: Schema.optional(PathId)
})
export type CreateExportRequest = typeof CreateExportRequest.Type

export const ExportAccepted = Schema.Struct({ id: ExportId, status: Schema.Literal("pending") })
