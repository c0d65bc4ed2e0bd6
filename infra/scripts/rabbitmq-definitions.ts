/**
 * Writes infra/rabbitmq/definitions.json (and definitions.quorum.json) from the topology the services declare in
 * code: `npx tsx infra/scripts/rabbitmq-definitions.ts`. A test fails when the files and the code disagree.
 */
import { herald, toDefinitions } from "@herald/infra/Topology"
import { writeFileSync } from "node:fs"

export const defaultRetryDelaysMs = [1_000, 5_000, 30_000]

export const definitions = (queueType: "classic" | "quorum") => {
  const { topology } = herald(defaultRetryDelaysMs)
  return {
    vhosts: [{ name: "/" }],
    ...toDefinitions(topology, "/", queueType)
  }
}

export const render = (queueType: "classic" | "quorum") => `${JSON.stringify(definitions(queueType), null, 2)}\n`

if (import.meta.url === `file://${process.argv[1]}`) {
  const folder = new URL("../rabbitmq/", import.meta.url)
  writeFileSync(new URL("definitions.json", folder), render("classic"))
  writeFileSync(new URL("definitions.quorum.json", folder), render("quorum"))
  console.log("wrote infra/rabbitmq/definitions.json and definitions.quorum.json")
}
