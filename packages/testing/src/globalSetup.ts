import type { TestProject } from "vitest/node"
import { ensurePrerequisites } from "./Prerequisites.ts"
import { startFerretDb } from "./FerretDb.ts"
import { type Server } from "./Ports.ts"
import { startVhost } from "./RabbitMq.ts"
import { startRedis } from "./RedisServer.ts"

/**
 * Prepares what the run needs (Prerequisites.ts), then provisions the real servers for the whole run: the given `MONGODB_URL` / `REDIS_URL` / `AMQP_URL`, or else
 * FerretDB on a free port, a private redis-server, and a RabbitMQ vhost of this run; all removed at the end.
 */

declare module "vitest" {
  export interface ProvidedContext {
    mongodbUrl: string
    redisUrl: string
    amqpUrl: string
    amqpVhost: string
    runId: string
  }
}

export default async function setup(project: TestProject) {
  const stillMissing = await ensurePrerequisites()
  for (const line of stillMissing) console.warn(`herald tests: missing ${line}; the tests that need it will fail`)
  const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
  const started: Array<Server> = []
  const stopAll = async () => {
    for (const server of started.reverse()) await server.stop().catch((error) => console.error(error))
  }
  try {
    const given = (name: string, start: () => Promise<Server>): Promise<string> => {
      const url = process.env[name]
      if (url !== undefined && url !== "") return Promise.resolve(url)
      return start().then((server) => {
        started.push(server)
        return server.url
      })
    }
    const mongodbUrl = await given("MONGODB_URL", startFerretDb)
    const redisUrl = await given("REDIS_URL", () => startRedis())
    let amqpUrl = process.env.AMQP_URL
    let amqpVhost: string | undefined = amqpUrl === undefined ? undefined : decodeURIComponent(new URL(amqpUrl).pathname.slice(1) || "/")
    if (amqpUrl === undefined) {
      const vhost = await startVhost(`herald-test-${runId}`)
      started.push(vhost)
      amqpUrl = vhost.url
      amqpVhost = vhost.vhost
    }
    project.provide("mongodbUrl", mongodbUrl)
    project.provide("redisUrl", redisUrl)
    project.provide("amqpUrl", amqpUrl)
    project.provide("amqpVhost", amqpVhost ?? "/")
    project.provide("runId", runId)
  } catch (error) {
    await stopAll()
    // A missing binary is a message to the person running the tests, not a stack trace.
    if (error instanceof Error && error.name === "MissingBinary") {
      console.error(`\nherald tests: ${error.message}\n`)
      process.exit(2)
    }
    throw error
  }
  return stopAll
}
