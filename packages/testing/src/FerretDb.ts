import { execFile, spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { findBinary, freePort, goBin, MissingBinary, type Server, stopProcess, waitForPort } from "./Ports.ts"

const run = promisify(execFile)

/** The PostgreSQL server FerretDB keeps its data in: `FERRETDB_POSTGRESQL_URL`, or the local one. */
const postgresServerUrl = (): URL => {
  const given = process.env.FERRETDB_POSTGRESQL_URL
  return new URL(given !== undefined && given !== "" ? given : "postgres://postgres@127.0.0.1:5432/postgres")
}

const psql = (server: URL, sql: string) => {
  const binary = findBinary("psql", ["/usr/bin", "/usr/lib/postgresql/15/bin"])
  if (binary === undefined) throw new MissingBinary("psql", "Install it (Debian: `apt-get install postgresql-client`).")
  const admin = new URL(server.href)
  admin.pathname = "/postgres"
  return run(binary, [admin.href, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], { timeout: 30_000 })
}

type FerretBackend =
  | { readonly kind: "postgresql"; readonly url: string; readonly drop: () => Promise<void> }
  | { readonly kind: "sqlite"; readonly dir: string; readonly drop: () => Promise<void> }

/**
 * A PostgreSQL database of its own on the PostgreSQL server (FerretDB's primary backend), dropped by `drop`; the
 * SQLite backend in a temporary folder when no PostgreSQL answers (its updates scan tables: FERRETDB.md).
 */
const ferretBackend = async (): Promise<FerretBackend> => {
  const server = postgresServerUrl()
  const name = `herald_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  try {
    await psql(server, `CREATE DATABASE ${name}`)
    const url = new URL(server.href)
    url.pathname = `/${name}`
    return {
      kind: "postgresql",
      url: url.href,
      drop: () => psql(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => undefined)
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error)
    console.warn(`herald: no PostgreSQL answered at ${server.host} (${reason}); FerretDB falls back to its SQLite backend`)
    const dir = await mkdtemp(join(tmpdir(), "herald-ferretdb-"))
    return { kind: "sqlite", dir, drop: () => rm(dir, { recursive: true, force: true }) }
  }
}

/**
 * FerretDB v1.24 on a free port, on a PostgreSQL database of its own (or SQLite as a fallback). `kill` is a crash
 * (SIGKILL) and `restart` starts it again on the same port and data, for outage tests.
 */
export const startFerretDb = async (): Promise<
  Server & {
    readonly pid: number | undefined
    readonly backend: "postgresql" | "sqlite"
    readonly kill: () => Promise<void>
    readonly restart: () => Promise<void>
    /** Freezes the server (SIGSTOP): connections stay open, nothing answers. */
    readonly pause: () => void
    readonly resume: () => void
  }
> => {
  const binary = process.env.FERRETDB_BIN ?? findBinary("ferretdb", goBin())
  if (binary === undefined) {
    throw new MissingBinary("ferretdb", "Build it once with `bash infra/scripts/build-ferretdb.sh` (needs Go), or set MONGODB_URL.")
  }
  const backend = await ferretBackend()
  const port = await freePort()
  const launch = async () => {
    const child = spawn(binary, [
      ...(backend.kind === "postgresql"
        ? ["--handler=postgresql", `--postgresql-url=${backend.url}`]
        : ["--handler=sqlite", `--sqlite-url=file:${backend.dir}/`]),
      `--listen-addr=127.0.0.1:${port}`,
      "--state-dir=-",
      "--debug-addr=-",
      "--telemetry=disable",
      "--log-level=error"
    ], { stdio: ["ignore", "ignore", "pipe"] })
    // Its error log names every refused duplicate (Herald's claims make many): kept, and shown only if it dies.
    let log = ""
    child.stderr?.on("data", (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-8_000)
    })
    const exited = new Promise<never>((_, reject) =>
      child.once("exit", (code) => reject(new Error(`ferretdb exited with ${code} at start: ${log}`)))
    )
    exited.catch(() => undefined)
    await Promise.race([waitForPort(port), exited])
    return child
  }
  let child = await launch()
  return {
    url: `mongodb://127.0.0.1:${port}/?directConnection=true`,
    port,
    backend: backend.kind,
    get pid() {
      return child.pid
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      await stopProcess(child)
    },
    restart: async () => {
      await stopProcess(child)
      child = await launch()
    },
    pause: () => void child.kill("SIGSTOP"),
    resume: () => void child.kill("SIGCONT"),
    stop: async () => {
      child.kill("SIGCONT")
      await stopProcess(child)
      await backend.drop()
    }
  }
}

