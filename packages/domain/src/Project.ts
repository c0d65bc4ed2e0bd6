import { Schema } from "effect"
import { IsoDateTime, TrimmedText } from "./Common.ts"
import { ProjectId } from "./Ids.ts"
import { ProjectRole } from "./Member.ts"

/** Tasks of a project by status, kept incrementally from task events (never aggregated at read time). */
export const TaskCounts = Schema.Struct({
  todo: Schema.Int,
  in_progress: Schema.Int,
  done: Schema.Int
})
export type TaskCounts = typeof TaskCounts.Type
export const zeroCounts: TaskCounts = { todo: 0, in_progress: 0, done: 0 }

export const ProjectName = TrimmedText(1, 100)
export const ProjectDescription = Schema.String.pipe(Schema.maxLength(2000))

export class Project extends Schema.Class<Project>("Project")({
  id: ProjectId,
  name: Schema.String,
  description: Schema.String,
  taskCounts: TaskCounts,
  role: ProjectRole.annotations({ description: "The caller's role in the project" }),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime
}) {}

export const CreateProjectRequest = Schema.Struct({
  name: ProjectName,
  description: Schema.optionalWith(ProjectDescription, { default: () => "" })
})
export type CreateProjectRequest = typeof CreateProjectRequest.Type

export const UpdateProjectRequest = Schema.Struct({
  name: Schema.optional(ProjectName),
  description: Schema.optional(ProjectDescription)
})
export type UpdateProjectRequest = typeof UpdateProjectRequest.Type
