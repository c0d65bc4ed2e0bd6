import { type ChildProcess, execFile, spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { createServer, Socket } from "node:net"
import { tmpdir } from "node:os"
import { delimiter, join } from "node:path"
import { promisify } from "node:util"

/**
 * Starting and stopping the real servers the tests need. Plain promises on purpose: vitest's global setup and the
 * helpers around child processes live outside any Effect runtime.
 */

const run = promisify(execFile)

/** A free TCP port on loopback (the kernel's pick, released before the caller binds it). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** Resolves once something accepts TCP connections on the port, or rejects after `timeoutMs`. */
export const waitForPort = async (port: number, timeoutMs = 20_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = new Socket()
      socket.once("connect", () => {
        socket.destroy()
        resolve(true)
      })
      socket.once("error", () => resolve(false))
      socket.connect(port, "127.0.0.1")
    })
    if (open) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`)
}

/** The first executable named `name` on PATH or among `extra` folders. */
export const findBinary = (name: string, extra: ReadonlyArray<string> = []): string | undefined =>
  [...(process.env.PATH ?? "").split(delimiter), ...extra]
    .map((folder) => join(folder, name))
    .find((candidate) => existsSync(candidate))

export class MissingBinary extends Error {
  constructor(name: string, howToGet: string) {
    super(`${name} was not found on PATH. ${howToGet}`)
    this.name = "MissingBinary"
  }
}

export interface Server {
  readonly url: string
  readonly port: number
  readonly stop: () => Promise<void>
}

const stopProcess = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill("SIGTERM")
  })

export const goBin = (): ReadonlyArray<string> => {
  const home = process.env.HOME ?? "/root"
  return [process.env.GOBIN, process.env.GOPATH ? join(process.env.GOPATH, "bin") : undefined, join(home, "go", "bin")]
    .filter((folder): folder is string => folder !== undefined)
}

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
    ], { stdio: ["ignore", "ignore", "inherit"] })
    await waitForPort(port)
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

const repositoryRoot = new URL("../../../", import.meta.url).pathname

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

/**
 * The real `nginx` running Herald's shipped configuration (`infra/nginx/herald.conf`), with its two marked lines
 * rewritten: it listens on a free loopback port and proxies to `upstreams` (host:port of gateway copies).
 * `accessLog()` returns the JSON access-log lines it wrote so far.
 */
export const startNginx = async (upstreams: ReadonlyArray<string>): Promise<Server & { readonly accessLog: () => ReadonlyArray<Record<string, unknown>> }> => {
  const binary = findBinary("nginx", ["/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin"])
  if (binary === undefined) throw new MissingBinary("nginx", "Install it (Debian: `apt-get install nginx`; nix: `nix develop`).")
  const dir = await mkdtemp(join(tmpdir(), "herald-nginx-"))
  const port = await freePort()
  const shipped = await readFile(join(repositoryRoot, "infra/nginx/herald.conf"), "utf8")
  const marked = (marker: string) => new RegExp(`^([ \\t]*)(server|listen) [^;\\n]*;[^\\n]*# herald:${marker}$`, "m")
  for (const marker of ["upstream-servers", "listen"]) {
    if (!marked(marker).test(shipped)) throw new Error(`infra/nginx/herald.conf lost its "# herald:${marker}" line`)
  }
  const herald = shipped
    .replace(marked("upstream-servers"), (_, indent: string) =>
      upstreams.map((upstream) => `${indent}server ${upstream} max_fails=3 fail_timeout=10s;`).join("\n"))
    .replace(marked("listen"), (_, indent: string) => `${indent}listen 127.0.0.1:${port};`)
    .replaceAll("/dev/stdout", join(dir, "access.log"))
  await writeFile(join(dir, "herald.conf"), herald)
  // The shipped nginx.conf, with the paths a non-root, non-container run needs.
  const main = (await readFile(join(repositoryRoot, "infra/nginx/nginx.conf"), "utf8"))
    .replace("worker_processes auto;", "worker_processes 2;")
    .replace("pid /tmp/nginx.pid;", `pid ${dir}/nginx.pid;`)
    .replace("/etc/nginx/herald.conf", join(dir, "herald.conf"))
    .replace("http {", [
      "http {",
      `    client_body_temp_path ${dir}/client_body;`,
      `    proxy_temp_path ${dir}/proxy;`,
      `    fastcgi_temp_path ${dir}/fastcgi;`,
      `    uwsgi_temp_path ${dir}/uwsgi;`,
      `    scgi_temp_path ${dir}/scgi;`
    ].join("\n"))
  const user = process.getuid?.() === 0 ? "user root;\n" : ""
  await writeFile(join(dir, "nginx.conf"), user + main)
  let output = ""
  const child = spawn(binary, ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", "stderr", "-g", "daemon off;"], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString()
  })
  const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`nginx exited with ${code}: ${output}`))))
  exited.catch(() => undefined)
  await Promise.race([waitForPort(port), exited])
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    accessLog: () => {
      try {
        return readFileSync(join(dir, "access.log"), "utf8").split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as Record<string, unknown>)
      } catch {
        return []
      }
    },
    stop: async () => {
      await stopProcess(child)
      await rm(dir, { recursive: true, force: true })
    }
  }
}
