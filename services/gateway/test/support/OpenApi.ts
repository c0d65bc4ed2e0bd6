import { Ajv2020 } from "ajv/dist/2020.js"
import addFormats from "ajv-formats"

/** The served OpenAPI document, read as tools read it: plain JSON. */
export type Json = Record<string, unknown>

export const isRecord = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

export const recordOf = (value: unknown): Json => (isRecord(value) ? value : {})

export interface Operation {
  readonly method: string
  readonly path: string
  readonly operation: Json
}

const methods = ["get", "put", "post", "delete", "patch"]

/** Every operation of the document. */
export const operationsOf = (spec: Json): ReadonlyArray<Operation> =>
  Object.entries(recordOf(spec.paths)).flatMap(([path, item]) =>
    Object.entries(recordOf(item))
      .filter(([method, operation]) => methods.includes(method) && isRecord(operation))
      .map(([method, operation]) => ({ method: method.toUpperCase(), path, operation: recordOf(operation) }))
  )

export const parametersOf = (operation: Json): ReadonlyArray<Json> =>
  Array.isArray(operation.parameters) ? operation.parameters.filter(isRecord) : []

export const responsesOf = (operation: Json): ReadonlyArray<readonly [number, Json]> =>
  Object.entries(recordOf(operation.responses)).map(([status, response]) => [Number(status), recordOf(response)] as const)

export const jsonMedia = (holder: Json): Json | undefined => {
  const media = recordOf(holder.content)["application/json"]
  return isRecord(media) ? media : undefined
}

/** The names of the component schemas that `node` refers to. */
const refsOf = (node: unknown, into: Set<string> = new Set()): Set<string> => {
  if (Array.isArray(node)) node.forEach((item) => refsOf(item, into))
  else if (isRecord(node)) {
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string") into.add(value.replace("#/components/schemas/", ""))
      else refsOf(value, into)
    }
  }
  return into
}

/** The component schemas that reach themselves through references, directly or through others. */
export const recursiveSchemas = (spec: Json): ReadonlyArray<string> => {
  const schemas = recordOf(recordOf(spec.components).schemas)
  const edges = new Map(Object.entries(schemas).map(([name, schema]) => [name, refsOf(schema)]))
  const reaches = (from: string, target: string, seen: Set<string>): boolean =>
    [...(edges.get(from) ?? [])].some((next) => next === target || (!seen.has(next) && (seen.add(next), reaches(next, target, seen))))
  return [...edges.keys()].filter((name) => reaches(name, name, new Set()))
}

/** A JSON Schema 2020-12 validator (the dialect of OpenAPI 3.1) for schemas of the document, `$ref`s included. */
export const schemaValidator = (spec: Json) => {
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  addFormats(ajv)
  const components = recordOf(spec.components)
  return (schema: unknown) => {
    const validate = ajv.compile({ ...recordOf(schema), components })
    return (value: unknown): ReadonlyArray<string> =>
      validate(value) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath || "/"} ${error.message ?? "invalid"}`)
  }
}
