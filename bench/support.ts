/** Helpers shared by the bench's parts: timing, percentiles, and per-process CPU and memory from /proc (Linux). */
import { Effect, Fiber } from "effect"
import { readdirSync, readFileSync } from "node:fs"

/**
 * Runs `call(lane)` over and over in `lanes` fibers, each its own (as HTTP requests are), for `seconds`: calls per
 * second, and this process's CPU per call in µs.
 */
export const callsPerSecond = <E>(call: (lane: number) => Effect.Effect<unknown, E>, lanes: number, seconds: number) =>
  Effect.gen(function*() {
    let count = 0
    const cpu = process.cpuUsage()
    const deadline = Date.now() + seconds * 1000
    const lane = (i: number) =>
      Effect.gen(function*() {
        while (Date.now() < deadline) {
          yield* call(i)
          count++
        }
      })
    yield* Fiber.joinAll(yield* Effect.forEach(Array.from({ length: lanes }, (_, i) => i), (i) => Effect.fork(lane(i))))
    const used = process.cpuUsage(cpu)
    return { perSecond: count / seconds, cpuMicrosPerCall: (used.user + used.system) / count }
  })

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
export const round = (n: number, digits = 0) => Number(n.toFixed(digits))
export const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN
}

export const rssMb = (pid: number | undefined): number => {
  if (pid === undefined) return NaN
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"))
    return round(Number(line?.replace(/\D+/g, "") ?? NaN) / 1024, 1)
  } catch {
    return NaN
  }
}

/** CPU time (user + system) a process has used so far, in ms; Linux's /proc counts it in 10 ms ticks (USER_HZ 100). */
export const cpuMs = (pid: number | undefined): number => {
  if (pid === undefined) return NaN
  try {
    // Fields after the command name (which may hold spaces, hence the split on ") "): utime and stime are 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? []
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return NaN
  }
}

const commandLine = (pid: string) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ")
  } catch {
    return ""
  }
}

/** The processes whose command line contains `needle` (PostgreSQL names a backend's database in its title). */
export const pidsMatching = (needle: string): ReadonlyArray<number> =>
  readdirSync("/proc").filter((entry) => /^\d+$/.test(entry) && commandLine(entry).includes(needle)).map(Number)

/**
 * The PostgreSQL backends serving a FerretDB process: its `--postgresql-url` names the database, and each backend's
 * title reads `postgres: <user> <database> <client>`. Empty on the SQLite backend.
 */
export const postgresBackendsOf = (ferretPid: number | undefined): (() => ReadonlyArray<number>) => {
  const database = /--postgresql-url=\S*\/(\w+)/.exec(commandLine(String(ferretPid)))?.[1]
  return () => (database === undefined ? [] : pidsMatching(` ${database} `).filter((pid) => commandLine(String(pid)).startsWith("postgres:")))
}

/** What a meter measures: one process, or a group that may change during the run (PostgreSQL's backends). */
export type Measured = number | undefined | (() => ReadonlyArray<number>)

/**
 * CPU ms used by each named process (or group) between `start` and `stop`; `self` is this process (the load
 * generator). A group's processes started during the run count whole; one that ended during it is lost.
 */
export const cpuMeter = (measured: Record<string, Measured>) => {
  const pidsOf = (m: Measured): ReadonlyArray<number> => (typeof m === "function" ? m() : m === undefined ? [] : [m])
  const before = new Map<number, number>()
  for (const m of Object.values(measured)) for (const pid of pidsOf(m)) before.set(pid, cpuMs(pid))
  const self = process.cpuUsage()
  return {
    /** CPU ms per unit of work (`units`: requests, events) of each process, and of the load generator as `load`. */
    stop: (units: number): Record<string, number> => {
      const used = process.cpuUsage(self)
      const per = (ms: number) => round(ms / Math.max(1, units), 2)
      return {
        ...Object.fromEntries(Object.entries(measured).map(([name, m]) => [
          name,
          per(pidsOf(m).reduce((sum, pid) => sum + Math.max(0, cpuMs(pid) - (before.get(pid) ?? 0)), 0))
        ])),
        load: per((used.user + used.system) / 1000)
      }
    }
  }
}

export const cpuSummary = (perUnit: Record<string, number>, unit = "request") =>
  `CPU ms/${unit}: ${Object.entries(perUnit).map(([name, ms]) => `${name} ${ms}`).join(", ")}`

/** A private redis-server, by the address its process title shows (`redis-server 127.0.0.1:<port>`). */
export const pidsOfRedis = (port: number): ReadonlyArray<number> =>
  pidsMatching(`redis-server 127.0.0.1:${port}`)
