import { describe, expect, it } from "@effect/vitest"
import * as InfraConfig from "@herald/infra/InfraConfig"
import { Config, ConfigError, ConfigProvider, ConfigProviderPathPatch, Effect, HashSet } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import * as GatewayConfig from "@herald/gateway/GatewayConfig"
import * as NotificationsConfig from "@herald/notifications/NotificationsConfig"
import * as UsersConfig from "@herald/users/UsersConfig"

const root = new URL("../../../", import.meta.url).pathname

/** Every variable `config` reads, found by loading it from a provider that has none and notes each name asked for. */
const variablesOf = (config: Config.Config<unknown>): ReadonlyArray<string> => {
  const asked = new Set<string>()
  const recording = ConfigProvider.fromFlat(ConfigProvider.makeFlat({
    load: (path) => {
      asked.add(path.join("_"))
      return Effect.fail(ConfigError.MissingData([...path], "recorded"))
    },
    enumerateChildren: () => Effect.succeed(HashSet.empty()),
    patch: ConfigProviderPathPatch.empty
  }))
  Effect.runSync(Effect.ignore(Effect.withConfigProvider(config, recording)))
  return [...asked]
}

/** The configuration modules: the shared infrastructure's and each service's own. */
const modules: Record<string, Record<string, unknown>> = { InfraConfig, GatewayConfig, UsersConfig, NotificationsConfig }

const readByModules = (): ReadonlyArray<string> => {
  const names = new Set<string>()
  for (const module of Object.values(modules)) {
    for (const exported of Object.values(module)) {
      const config = Config.isConfig(exported) ? exported : typeof exported === "function" ? exported(0) : undefined
      if (Config.isConfig(config)) for (const name of variablesOf(config)) names.add(name)
    }
  }
  return [...names].sort()
}

/** Names in the first column of the README's configuration table (`A` / `B` rows name several). */
const documented = (): ReadonlyArray<string> => {
  const readme = readFileSync(join(root, "README.md"), "utf8")
  const section = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("\n## ", readme.indexOf("## Configuration") + 5))
  return section.split("\n")
    .filter((line) => line.startsWith("| `"))
    .flatMap((line) => [...(line.split("|")[1] ?? "").matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => match[1] ?? ""))
    .sort()
}

const sourceFiles = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []
  )

/** Every `Config.x("NAME")` / `Secrets.x("NAME")` in the programs' sources, and the file it is in. */
const readInSources = () =>
  ["packages", "services"].flatMap((top) =>
    readdirSync(join(root, top)).flatMap((name) => {
      const src = join(root, top, name, "src")
      try {
        return sourceFiles(src)
      } catch {
        return []
      }
    })
  ).flatMap((file) =>
    [...readFileSync(file, "utf8").matchAll(/(?:Config\.[a-zA-Z]+|Secrets\.[a-zA-Z]+)\(\s*"([A-Z][A-Z0-9_]+)"/g)].map((match) => ({
      name: match[1] ?? "",
      file: file.slice(root.length)
    }))
  )

describe("configuration", () => {
  it("every variable the programs read is in the README's table, and every row there is read", () => {
    const read = readByModules()
    expect(read.length).toBeGreaterThan(40)
    const table = documented()
    expect(read.filter((name) => !table.includes(name))).toEqual([])
    const everywhere = new Set([...read, ...readInSources().map((found) => found.name)])
    expect(table.filter((name) => !everywhere.has(name))).toEqual([])
  })

  it("settings are read in the configuration modules only (one per program, one for the shared infrastructure)", () => {
    const misplaced = readInSources().filter(({ file, name }) =>
      !/Config\.ts$/.test(file) && !file.endsWith("Secrets.ts") &&
      // Whether a server is configured at all picks the real layer or the in-memory twin (Platform.ts).
      !["MONGODB_URL", "REDIS_URL", "AMQP_URL"].includes(name)
    )
    expect(misplaced).toEqual([])
  })
})
