import { freePort } from "./Ports.ts"
import { type ServiceProcess, startService } from "./Services.ts"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"

/** Herald as separate processes, the way it is deployed: users, tasks, N notifications copies and M gateways. */
export interface Cluster {
  readonly users: ServiceProcess
  readonly tasks: ServiceProcess
  readonly notifications: ReadonlyArray<ServiceProcess>
  readonly gateways: ReadonlyArray<ServiceProcess>
  /** The environment a process was started with: to start a replacement for it. */
  readonly envOf: (process: ServiceProcess) => Record<string, string>
}

/**
 * Starts the processes (all at once: ports are chosen first) and stops them with the scope. Gateway `i` talks to
 * notifications copy `i mod N`, so a test can tell the copies apart.
 */
export const cluster = (
  env: Record<string, string>,
  options: {
    readonly gateways: number
    readonly notifications: number
    readonly gatewayEnv?: Record<string, string>
    readonly tasksEnv?: Record<string, string>
  }
) =>
  Effect.gen(function*() {
    const shared = { RPC_SECRET: randomBytes(24).toString("base64url"), ...env }
    const port = () => Effect.promise(freePort)
    const usersPort = yield* port()
    const tasksPort = yield* port()
    const notificationPorts = yield* Effect.forEach(Array.from({ length: options.notifications }), port)
    const gatewayPorts = yield* Effect.forEach(Array.from({ length: options.gateways }), port)
    const rpc = { USERS_URL: `http://127.0.0.1:${usersPort}/rpc/users`, TASKS_URL: `http://127.0.0.1:${tasksPort}/rpc/tasks` }
    const envs = new Map<ServiceProcess, Record<string, string>>()
    const start = (entry: string, at: number, extra: Record<string, string> = {}) =>
      Effect.acquireRelease(
        Effect.promise(async () => {
          const env = { ...shared, ...rpc, ...extra }
          const started = await startService(`services/${entry}/src/main.ts`, env, { port: at })
          envs.set(started, env)
          return started
        }),
        (process) => Effect.promise(process.stop)
      )
    const [users, tasks, notifications, gateways] = yield* Effect.all([
      start("users", usersPort),
      start("tasks", tasksPort, options.tasksEnv),
      Effect.forEach(notificationPorts, (at) => start("notifications", at), { concurrency: "unbounded" }),
      Effect.forEach(gatewayPorts, (at, i) =>
        start("gateway", at, {
          NOTIFICATIONS_URL: `http://127.0.0.1:${notificationPorts[i % notificationPorts.length] ?? 0}/rpc/notifications`,
          ...options.gatewayEnv
        }), { concurrency: "unbounded" })
    ], { concurrency: "unbounded" })
    const envOf = (process: ServiceProcess) => envs.get(process) ?? { ...shared, ...rpc }
    return { users, tasks, notifications, gateways, envOf } satisfies Cluster
  })
