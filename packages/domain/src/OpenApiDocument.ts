/**
 * Finishes the OpenAPI document where HttpApi has no hook: drops its built-in decode error, lifts schema examples onto
 * parameters and media types, removes Effect's repeated `$id` markers (packages/domain/README.md).
 */

type Json = Record<string, unknown>

const decodeErrorRef = "#/components/schemas/HttpApiDecodeError"
const internalComponents = ["HttpApiDecodeError", "Issue", "PropertyKey"]
const methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

const isRecord = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

const recordOf = (value: unknown): Json => (isRecord(value) ? value : {})

/** Removes Effect's `$id` markers and the decode error's alternatives, deeply; a union left with one member is that member. */
const clean = (node: unknown): unknown => {
  if (Array.isArray(node)) return node.map(clean)
  if (!isRecord(node)) return node
  const entries = Object.entries(node)
    .filter(([key, value]) => !(key === "$id" && typeof value === "string" && value.startsWith("/schemas/")))
    .map(([key, value]): [string, unknown] => {
      if (key !== "anyOf" || !Array.isArray(value)) return [key, clean(value)]
      const members = value.filter((member) => !(isRecord(member) && member.$ref === decodeErrorRef)).map(clean)
      return [key, [...new Map(members.map((member) => [JSON.stringify(member), member])).values()]]
    })
  const result = Object.fromEntries(entries)
  const anyOf = result.anyOf
  if (Array.isArray(anyOf) && anyOf.length === 1 && Object.keys(result).length === 1) return anyOf[0]
  return result
}

/** The example of a schema: its own, its reference's, or one assembled from its parts; none when a part has none. */
const exampleOf = (schema: unknown, components: Json, seen: ReadonlySet<string> = new Set()): { readonly value: unknown } | undefined => {
  if (!isRecord(schema)) return undefined
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return { value: schema.examples[0] }
  if ("const" in schema) return { value: schema.const }
  if ("default" in schema) return { value: schema.default }
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return { value: schema.enum[0] }
  if (typeof schema.$ref === "string") {
    const name = schema.$ref.replace("#/components/schemas/", "")
    return seen.has(name) ? undefined : exampleOf(components[name], components, new Set([...seen, name]))
  }
  for (const key of ["allOf", "anyOf", "oneOf"]) {
    const members = schema[key]
    if (!Array.isArray(members)) continue
    // A nullable value is exemplified by its value, not by null.
    const ordered = [...members.filter((member) => !(isRecord(member) && member.type === "null")), ...members]
    for (const member of ordered) {
      const found = exampleOf(member, components, seen)
      if (found !== undefined) return found
    }
    return undefined
  }
  if (schema.type === "null") return { value: null }
  if (schema.type === "array") {
    const item = exampleOf(schema.items, components, seen)
    return { value: item === undefined ? [] : [item.value] }
  }
  if (schema.type === "object") {
    const required = Array.isArray(schema.required) ? schema.required : []
    const value: Json = {}
    for (const [name, property] of Object.entries(recordOf(schema.properties))) {
      const found = exampleOf(property, components, seen)
      if (found !== undefined) value[name] = found.value
      else if (required.includes(name)) return undefined
    }
    return { value }
  }
  return undefined
}

const withExample = (holder: Json, components: Json): Json => {
  if ("example" in holder || "examples" in holder) return holder
  const found = exampleOf(holder.schema, components)
  return found === undefined ? holder : { ...holder, example: found.value }
}

const withContentExamples = (content: unknown, components: Json): unknown =>
  isRecord(content)
    ? Object.fromEntries(Object.entries(content).map(([type, media]) => [type, isRecord(media) ? withExample(media, components) : media]))
    : content

/** A response whose only schema is the decode error: the operation takes no input that could fail validation. */
const isDecodeErrorOnly = (response: unknown) =>
  isRecord(response) && Object.values(recordOf(response.content)).some((media) => isRecord(media) && recordOf(media.schema).$ref === decodeErrorRef)

const finishOperation = (generated: Json, components: Json): Json => {
  const operation = recordOf(clean(generated))
  const responses = Object.entries(recordOf(operation.responses))
    .filter(([, response]) => !isDecodeErrorOnly(response))
    .map(([status, response]) => [status, isRecord(response) && "content" in response ? { ...response, content: withContentExamples(response.content, components) } : response])
  const requestBody = isRecord(operation.requestBody)
    ? { requestBody: { ...operation.requestBody, content: withContentExamples(operation.requestBody.content, components) } }
    : {}
  const parameters = Array.isArray(operation.parameters)
    ? { parameters: operation.parameters.map((parameter) => (isRecord(parameter) ? withExample(parameter, components) : parameter)) }
    : {}
  return { ...operation, ...parameters, ...requestBody, responses: Object.fromEntries(responses) }
}

/** Finishes the generated document (see the module comment); used as the API's `OpenApi.Transform`. */
export const finishDocument = (spec: Record<string, unknown>): Record<string, unknown> => {
  const components = recordOf(spec.components)
  const schemas = Object.fromEntries(
    Object.entries(recordOf(clean(components.schemas))).filter(([name]) => !internalComponents.includes(name))
  )
  const paths = Object.fromEntries(
    Object.entries(recordOf(spec.paths)).map(([path, item]) => [
      path,
      Object.fromEntries(
        Object.entries(recordOf(item)).map(([method, operation]) =>
          [method, methods.includes(method) && isRecord(operation) ? finishOperation(operation, schemas) : operation]
        )
      )
    ])
  )
  return { ...spec, paths, components: { ...components, schemas } }
}
