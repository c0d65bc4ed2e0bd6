import { Task } from "@herald/domain/Task"
import { Schema } from "effect"

/** The columns of a CSV export, in order. */
export const csvColumns = ["id", "projectId", "title", "description", "priority", "status", "dueDate", "version", "createdAt", "updatedAt"] as const

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break, quotes doubled. A field a
 * spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, or a tab or carriage return that hide
 * them) is prefixed with `'` (OWASP's advice against CSV injection), so it is shown, never evaluated.
 */
export const csvField = (value: string): string => {
  const neutral = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value
  return /[",\r\n]/.test(neutral) ? `"${neutral.replace(/"/g, "\"\"")}"` : neutral
}

export const csvHeader = `${csvColumns.join(",")}\r\n`

export const csvRow = (task: Task): string =>
  [
    task.id,
    task.projectId ?? "",
    task.title,
    task.description,
    task.priority,
    task.status,
    task.dueDate?.toISOString() ?? "",
    String(task.version),
    task.createdAt.toISOString(),
    task.updatedAt.toISOString()
  ].map(csvField).join(",") + "\r\n"

const encodeTask = Schema.encodeSync(Task)

/** JSON exports are one array, written element by element. */
export const jsonRow = (task: Task, first: boolean): string => `${first ? "" : ",\n"}${JSON.stringify(encodeTask(task))}`

export const fileStart = (format: "csv" | "json") => (format === "csv" ? csvHeader : "[\n")
export const fileEnd = (format: "csv" | "json") => (format === "csv" ? "" : "\n]\n")
export const row = (format: "csv" | "json", task: Task, first: boolean) => (format === "csv" ? csvRow(task) : jsonRow(task, first))
