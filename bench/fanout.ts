/**
 * Fan-out: one event on a project of `memberCount` members, each with a stream on one of two gateways; members are
 * written into the project document directly (why: bench/README.md).
 */
import { request, signUp, text } from "@herald/testing/Http"
import type { ServiceProcess } from "@herald/testing/Services"
import type { MongoClient } from "mongodb"
import WebSocket from "ws"
import { cpuMeter, type Measured, percentile, round, sleep } from "./support.ts"

export interface FanoutResult {
  readonly members: number
  readonly gateways: number
  readonly expected: number
  readonly stored: number
  readonly pushed: number
  /** ms from the write (request sent) to the API's answer. */
  readonly writeMs: number
  /** ms from the write to each notification's `createdAt` (taken just before the insert). */
  readonly storedMs: { readonly p50: number; readonly p99: number; readonly max: number }
  /** ms from the write until a poll of the collection first counted them all. */
  readonly allStoredSeenMs: number
  /** ms from the write to each push's arrival at its socket. */
  readonly pushedMs: { readonly p50: number; readonly p99: number; readonly max: number }
  /** From the write until the stream's `counts` frame after its notification (the badge; it follows the push). */
  readonly countsMs: { readonly p50: number; readonly p99: number; readonly max: number }
  readonly storedPerSecond: number
  readonly setupSeconds: number
  readonly cpuMsPerNotification: Record<string, number>
  /** Streams that got no push, by gateway and by how they gave the token, and the close codes of streams the server ended. */
  readonly missedPushes: Record<string, number | ReadonlyArray<number> | ReadonlyArray<string>>
}

const signUpMany = async (base: string, count: number, concurrency: number) => {
  const users: Array<Awaited<ReturnType<typeof signUp>>> = []
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      next++
      users.push(await signUp(base, "member"))
    }
  }))
  return users
}

/** Opens a stream and resolves once the gateway said `ready`; records when each notification arrives. */
const openStream = (base: string, token: string, arrivals: Map<string, number>, useQuery: boolean, got: Set<number>, index: number, seen: Array<string>, counted = new Map<number, number>()) =>
  new Promise<WebSocket>((resolve, reject) => {
    const url = `${base.replace("http", "ws")}/api/notifications/stream`
    const socket = useQuery ? new WebSocket(`${url}?access_token=${token}`) : new WebSocket(url, ["bearer", token])
    socket.on("message", (data) => {
      const body: unknown = JSON.parse(data.toString())
      const type = text(body, "type")
      seen.push(`${index}:${type}`)
      if (type === "ready") resolve(socket)
      if (type === "notification") {
        arrivals.set(text(body, "notification", "id"), Date.now())
        got.add(index)
      }
      if (type === "counts" && got.has(index) && !counted.has(index)) counted.set(index, Date.now())
    })
    socket.once("error", reject)
    socket.once("unexpected-response", (_, response) => reject(new Error(`stream handshake answered ${response.statusCode}`)))
  })

export const fanout = async (options: {
  readonly gateways: readonly [ServiceProcess, ServiceProcess]
  readonly mongo: MongoClient
  readonly database: string
  readonly memberCount: number
  readonly measured: Record<string, Measured>
}): Promise<FanoutResult> => {
  const [first, second] = options.gateways
  const setupStart = Date.now()
  const owner = await signUp(first.url, "owner")
  const members = await signUpMany(first.url, options.memberCount - 1, 16)
  const project = await request(first.url, "/api/projects", { token: owner.token, body: { name: "fan-out" } })
  if (project.status !== 201) throw new Error(`project create answered ${project.status} ${project.text}`)
  const projectId = text(project.body, "id")
  // One member through the API, to be sure the path works; the rest written into the project document (see above).
  const viaApi = await request(first.url, `/api/projects/${projectId}/members`, { token: owner.token, body: { email: members[0]?.email, role: "viewer" } })
  if (viaApi.status !== 201) throw new Error(`member add answered ${viaApi.status} ${viaApi.text}`)
  const projects = options.mongo.db(options.database).collection<{ _id: string; members: Array<{ userId: string; role: string; addedAt: Date }> }>("projects")
  const doc = await projects.findOne({ _id: projectId })
  if (doc === null) throw new Error("the project is not in the database")
  const addedAt = new Date()
  const everyone = [...doc.members, ...members.slice(1).map((member) => ({ userId: member.userId, role: "viewer", addedAt }))]
  await projects.updateOne({ _id: projectId }, { $set: { members: everyone, memberIds: everyone.slice(0, 100).map((member) => member.userId) } })
  const notifications = options.mongo.db(options.database).collection<{ _id: string; userId: string; type: string; createdAt: Date; data: { projectId?: string } }>("notifications")
  // The API-added member's own `project.member_added` must be in before the measured event.
  while ((await notifications.countDocuments({ type: "project.member_added", "data.projectId": projectId })) < 1) await sleep(100)

  const arrivals = new Map<string, number>()
  // Each gateway's first stream alone first, as before the cold-gateway loss was fixed (bench/README.md);
  // BENCH_FANOUT_COLD=1 opens them all at once.
  const warm: Array<WebSocket> = []
  if (process.env.BENCH_FANOUT_COLD !== "1") {
    for (const gateway of [first, second]) warm.push(await openStream(gateway.url, owner.token, new Map(), false, new Set(), -1, []))
  }
  const got = new Set<number>()
  const seen: Array<string> = []
  const counted = new Map<number, number>()
  const closed: Array<number> = []
  const sockets: Array<WebSocket> = []
  let next = 0
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < members.length) {
      const i = next++
      const member = members[i]
      if (member === undefined) continue
      // Half the streams on each gateway; both ways of giving the token.
      const socket = await openStream(i % 2 === 0 ? first.url : second.url, member.token, arrivals, i % 4 < 2, got, i, seen, counted)
      socket.once("close", (code) => closed.push(code))
      sockets.push(socket)
    }
  }))
  const setupSeconds = round((Date.now() - setupStart) / 1000, 1)
  await sleep(1_000)
  arrivals.clear()
  got.clear()
  seen.length = 0
  counted.clear()

  const expected = options.memberCount - 1
  const meter = cpuMeter(options.measured)
  const writtenAt = Date.now()
  const renamed = await request(first.url, `/api/projects/${projectId}`, { method: "PATCH", token: owner.token, body: { name: "fan-out, renamed" } })
  const writeMs = Date.now() - writtenAt
  if (renamed.status !== 200) throw new Error(`rename answered ${renamed.status} ${renamed.text}`)
  const filter = { type: "project.updated", "data.projectId": projectId }
  // Polls the collection every 250 ms until all are stored (on FerretDB each poll is a full scan that competes with
  // the insert), then only waits for the pushes (30 s at most in all).
  const deadline = Date.now() + 30_000
  let allStoredSeenMs = NaN
  while (Date.now() < deadline) {
    if (Number.isNaN(allStoredSeenMs) && (await notifications.countDocuments(filter)) >= expected) allStoredSeenMs = Date.now() - writtenAt
    if (!Number.isNaN(allStoredSeenMs) && arrivals.size >= expected && counted.size >= expected) break
    await sleep(Number.isNaN(allStoredSeenMs) ? 250 : 10)
  }
  const cpu = meter.stop(expected)
  const missed = members.flatMap((_, i) => (got.has(i) ? [] : [i]))
  const stored = await notifications.find(filter, { projection: { createdAt: 1 } }).toArray()
  const closedBeforeEnd = [...closed]
  for (const socket of [...sockets, ...warm]) socket.terminate()
  const storedMs = stored.map((n) => n.createdAt.getTime() - writtenAt)
  const pushedMs = [...arrivals.values()].map((at) => at - writtenAt)
  const spread = (values: ReadonlyArray<number>) => ({ p50: percentile(values, 50), p99: percentile(values, 99), max: Math.max(...values) })
  return {
    members: options.memberCount,
    gateways: 2,
    expected,
    stored: stored.length,
    pushed: arrivals.size,
    writeMs,
    storedMs: spread(storedMs),
    allStoredSeenMs,
    pushedMs: spread(pushedMs),
    countsMs: spread([...counted.values()].map((at) => at - writtenAt)),
    // From the write until a poll saw them all: `createdAt` is taken before the insert, which ends much later.
    storedPerSecond: round(stored.length / (Math.max(1, allStoredSeenMs) / 1000)),
    setupSeconds,
    cpuMsPerNotification: cpu,
    missedPushes: {
      onFirstGateway: missed.filter((i) => i % 2 === 0).length,
      onSecondGateway: missed.filter((i) => i % 2 === 1).length,
      tokenInQuery: missed.filter((i) => i % 4 < 2).length,
      tokenInProtocol: missed.filter((i) => i % 4 >= 2).length,
      streamsClosedByServer: closedBeforeEnd,
      messagesOfMissed: seen.filter((entry) => missed.includes(Number(entry.split(":")[0])))
    }
  }
}
