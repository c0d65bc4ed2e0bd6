import { spawn } from "node:child_process"
import { findBinary, freePort, MissingBinary, type Server, stopProcess, waitForPort } from "./Ports.ts"

/** A private `redis-server` on a free port, keeping nothing on disk: tests may stop and restart it at will. */
export const startRedis = async (port?: number): Promise<
  Server & {
    readonly restart: () => Promise<void>
    /** Freezes the server (SIGSTOP): connections stay open, nothing answers, data is kept. */
    readonly pause: () => void
    readonly resume: () => void
  }
> => {
  const binary = findBinary("redis-server")
  if (binary === undefined) {
    throw new MissingBinary("redis-server", "Install it (Debian: `apt-get install redis-server`), or set REDIS_URL.")
  }
  const chosen = port ?? await freePort()
  const launch = async () => {
    const child = spawn(binary, ["--port", String(chosen), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore"
    })
    await waitForPort(chosen)
    return child
  }
  let child = await launch()
  return {
    url: `redis://127.0.0.1:${chosen}`,
    port: chosen,
    stop: () => stopProcess(child),
    restart: async () => {
      await stopProcess(child)
      child = await launch()
    },
    pause: () => void child.kill("SIGSTOP"),
    resume: () => void child.kill("SIGCONT")
  }
}

