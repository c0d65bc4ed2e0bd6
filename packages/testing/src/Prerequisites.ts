import { execFile } from "node:child_process"
import { join } from "node:path"
import { promisify } from "node:util"
import { findBinary, goBin, repositoryRoot } from "./Ports.ts"

/**
 * What `npm test` needs on this machine, prepared before any test runs: FerretDB built from source when missing
 * (cached in Go's bin folder), and the Debian packages of the servers and tools the tests start, installed when
 * running as root. Otherwise each missing one is named with the command that brings it.
 */

const run = promisify(execFile)

/** A program the tests run, where Debian keeps it, and the package that brings it. */
const systemPrograms: ReadonlyArray<{ readonly binary: string; readonly folders: ReadonlyArray<string>; readonly pkg: string }> = [
  { binary: "redis-server", folders: [], pkg: "redis-server" },
  { binary: "nginx", folders: ["/usr/sbin"], pkg: "nginx" },
  { binary: "docker-compose", folders: [], pkg: "docker-compose" },
  { binary: "nix-instantiate", folders: [], pkg: "nix-bin" },
  { binary: "psql", folders: [], pkg: "postgresql-client" }
]

const isRoot = process.getuid?.() === 0

const installPackages = async (packages: ReadonlyArray<string>): Promise<void> => {
  console.log(`herald tests: installing ${packages.join(", ")} (apt-get)`)
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
  await run("apt-get", ["update", "-qq"], { env, timeout: 300_000 })
  await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...packages], { env, timeout: 600_000 })
}

const buildFerretDb = async (): Promise<void> => {
  if (findBinary("go", ["/usr/local/go/bin"]) === undefined) return
  console.log("herald tests: building FerretDB v1.24.2 once (infra/scripts/build-ferretdb.sh)")
  await run("bash", [join(repositoryRoot, "infra/scripts/build-ferretdb.sh")], {
    env: { ...process.env, PATH: `${process.env.PATH ?? ""}:/usr/local/go/bin` },
    timeout: 900_000
  })
}

/** Installs or builds what is missing; returns a line per program still missing, with how to get it. */
export const ensurePrerequisites = async (): Promise<ReadonlyArray<string>> => {
  const missing = () => systemPrograms.filter((program) => findBinary(program.binary, program.folders) === undefined)
  const before = missing()
  if (before.length > 0 && isRoot) {
    await installPackages(before.map((program) => program.pkg)).catch((error: unknown) =>
      console.warn(`herald tests: apt-get failed: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`)
    )
  }
  const ferretMissing = () =>
    process.env.MONGODB_URL === undefined && process.env.FERRETDB_BIN === undefined && findBinary("ferretdb", goBin()) === undefined
  if (ferretMissing()) {
    await buildFerretDb().catch((error: unknown) =>
      console.warn(`herald tests: building FerretDB failed: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`)
    )
  }
  return [
    ...missing().map((program) => `${program.binary}: apt-get install ${program.pkg}`),
    ...(ferretMissing() ? ["ferretdb: bash infra/scripts/build-ferretdb.sh (needs Go), or set MONGODB_URL"] : [])
  ]
}
