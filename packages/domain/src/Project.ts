import { Schema } from "effect"
import { Count, IsoDateTime, noNul, TrimmedText } from "./Common.ts"
import { ProjectId } from "./Ids.ts"
import { ProjectRole } from "./Member.ts"

/** Tasks of a project by status, kept incrementally from task events (never aggregated at read time). */
export const TaskCounts = Schema.Struct({
  todo: Count("Tasks still to do", 3),
  in_progress: Count("Tasks being worked on", 1),
  done: Count("Tasks done", 5)
}).annotations({ description: "How many of the project's tasks are in each status" })
export type TaskCounts = typeof TaskCounts.Type
export const zeroCounts: TaskCounts = { todo: 0, in_progress: 0, done: 0 }

export const ProjectName = TrimmedText(1, 100, { description: "The project's name", examples: ["Website relaunch"] })
export const ProjectDescription = Schema.String.pipe(noNul, Schema.maxLength(2000)).annotations({
  title: "Project description",
  description: "Free text, at most 2000 characters",
  examples: ["Everything for the new site, due in spring."]
})

export class Project extends Schema.Class<Project>("Project")({
  id: ProjectId,
  name: Schema.String.annotations({ description: "The project's name", examples: ["Website relaunch"] }),
  description: Schema.String.annotations({ description: "Free text", examples: ["Everything for the new site, due in spring."] }),
  taskCounts: TaskCounts,
  role: ProjectRole.annotations({ description: "The caller's role in the project" }),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime
}, { description: "A project of the caller's, with its task counts" }) {}

export const CreateProjectRequest = Schema.Struct({
  name: ProjectName,
  description: Schema.optionalWith(ProjectDescription, { default: () => "" })
}).annotations({
  description: "A new project: a name, and optionally a description",
  examples: [{ name: "Website relaunch", description: "Everything for the new site, due in spring." }]
})
export type CreateProjectRequest = typeof CreateProjectRequest.Type

export const UpdateProjectRequest = Schema.Struct({
  name: Schema.optional(ProjectName),
  description: Schema.optional(ProjectDescription)
}).annotations({ description: "The fields to change; those left out keep their value", examples: [{ name: "Website relaunch (phase 2)" }] })
export type UpdateProjectRequest = typeof UpdateProjectRequest.Type
