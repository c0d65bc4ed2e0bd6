import { execFile } from "node:child_process"
import { promisify } from "node:util"
import { findBinary, MissingBinary, type Server } from "./Ports.ts"

const run = promisify(execFile)

/** `rabbitmqctl`, which talks to the local broker through Erlang distribution (root on these machines). */
export const rabbitmqctl = async (...args: ReadonlyArray<string>): Promise<string> => {
  const binary = findBinary("rabbitmqctl", ["/usr/sbin", "/usr/lib/rabbitmq/bin"])
  if (binary === undefined) {
    throw new MissingBinary("rabbitmqctl", "Install RabbitMQ (Debian: `apt-get install rabbitmq-server`), or set AMQP_URL.")
  }
  const { stdout } = await run(binary, ["-q", ...args], { timeout: 60_000 })
  return stdout
}

/** A RabbitMQ virtual host of its own on the local broker, removed by `stop`. */
export const startVhost = async (name: string): Promise<Server & { readonly vhost: string }> => {
  await rabbitmqctl("add_vhost", name)
  await rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
  return {
    url: `amqp://guest:guest@127.0.0.1:5672/${encodeURIComponent(name)}`,
    port: 5672,
    vhost: name,
    stop: async () => {
      await rabbitmqctl("delete_vhost", name)
    }
  }
}

/** Closes, from the broker's side, every client connection of a virtual host: a network failure, as seen by clients. */
export const closeBrokerConnections = async (vhost: string): Promise<number> => {
  const listing = await rabbitmqctl("list_connections", "pid", "vhost")
  const pids = listing
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((columns) => columns.length >= 2 && columns[1] === vhost)
    .map((columns) => columns[0])
    .filter((pid): pid is string => pid !== undefined && pid.startsWith("<"))
  for (const pid of pids) await rabbitmqctl("close_connection", pid, "test: connection closed by the broker")
  return pids.length
}

