import { spawn } from "node:child_process"
import { join } from "node:path"
import { freePort, repositoryRoot, stopProcess } from "./Ports.ts"

export interface ServiceProcess {
  readonly url: string
  readonly port: number
  /** Its Prometheus metrics (`METRICS_PORT`, a free port of its own). */
  readonly metricsUrl: string
  readonly pid: number | undefined
  /** What the process printed, for diagnostics. */
  readonly output: () => string
  /** SIGTERM, then SIGKILL after 5 s: a graceful stop. */
  readonly stop: () => Promise<void>
  /** SIGKILL: a crash. */
  readonly kill: () => Promise<void>
}

/** Waits until `GET url` answers at all (any status), or rejects after `timeoutMs`. */
export const waitForHttp = async (url: string, timeoutMs = 45_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(() => true, () => false)
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 150))
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`)
}

/**
 * Runs one of Herald's programs (`services/<name>/src/main.ts`) as a child process on a free port (and its metrics on
 * another), with exactly the given environment (plus PATH and HOME), and waits for its `/health`.
 */
export const startService = async (
  entry: string,
  env: Record<string, string>,
  options: { readonly port?: number; readonly runtime?: "node" | "deno" | "bundle" } = {}
): Promise<ServiceProcess> => {
  const port = options.port ?? await freePort()
  const metricsPort = await freePort()
  const script = join(repositoryRoot, entry)
  const [command, args] = options.runtime === "deno"
    ? [join(repositoryRoot, "node_modules/.bin/deno"), ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-sys", "--quiet", script]] as const
    : options.runtime === "bundle"
    ? [process.execPath, [script]] as const
    : [process.execPath, ["--import", "tsx", script]] as const
  let output = ""
  const child = spawn(command, [...args], {
    cwd: repositoryRoot,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...env, PORT: String(port), METRICS_PORT: String(metricsPort) },
    stdio: ["ignore", "pipe", "pipe"]
  })
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000)
  }
  child.stdout?.on("data", collect)
  child.stderr?.on("data", collect)
  const url = `http://127.0.0.1:${port}`
  try {
    await Promise.race([
      waitForHttp(`${url}/health`),
      new Promise((_, reject) => child.once("exit", (code) => reject(new Error(`${entry} exited with ${code}: ${output}`))))
    ])
  } catch (error) {
    child.kill("SIGKILL")
    throw error
  }
  const signal = (name: NodeJS.Signals) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name)
    return stopProcess(child)
  }
  return { url, port, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`, pid: child.pid, output: () => output, stop: signal("SIGTERM"), kill: signal("SIGKILL") }
}

