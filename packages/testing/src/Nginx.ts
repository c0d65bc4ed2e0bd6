import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { findBinary, freePort, MissingBinary, repositoryRoot, type Server, stopProcess, waitForPort } from "./Ports.ts"

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
