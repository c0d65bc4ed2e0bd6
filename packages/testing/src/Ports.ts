import type { ChildProcess } from "node:child_process"
import { existsSync } from "node:fs"
import { createServer, Socket } from "node:net"
import { delimiter, join } from "node:path"

/** What every server helper shares: free ports, waiting for a port, finding binaries, stopping a child process. */

/** The repository's root folder. */
export const repositoryRoot = new URL("../../../", import.meta.url).pathname

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

/** SIGTERM, then SIGKILL after 5 s. */
export const stopProcess = (child: ChildProcess): Promise<void> =>
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

