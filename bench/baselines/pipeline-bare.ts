/** Pipeline baseline (a), the create side: a bare `node:http` create that inserts and publishes with a confirm (bench/README.md). */
import amqp from "amqplib"
import { MongoClient } from "mongodb"
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"

const client = await new MongoClient(process.env.MONGODB_URL ?? "mongodb://127.0.0.1:27017").connect()
const tasks = client.db(process.env.MONGODB_DATABASE ?? "herald").collection<{ _id: string }>("tasks")
const connection = await amqp.connect(process.env.AMQP_URL ?? "amqp://127.0.0.1")
const channel = await connection.createConfirmChannel()
const queue = process.env.BENCH_QUEUE ?? "bench.pipeline"
await channel.assertQueue(queue, { durable: true })

const publish = (body: string) =>
  new Promise<void>((resolve, reject) =>
    channel.sendToQueue(queue, Buffer.from(body), { persistent: true }, (error) => (error ? reject(error) : resolve())))

createServer((request, response) => {
  if (request.method !== "POST" || request.url !== "/api/tasks") {
    response.writeHead(404).end()
    return
  }
  const chunks: Array<Buffer> = []
  request.on("data", (chunk: Buffer) => chunks.push(chunk))
  request.on("end", () => {
    const input = JSON.parse(Buffer.concat(chunks).toString()) as { title: string; assigneeId?: string }
    const task = { _id: randomUUID(), title: input.title, assigneeId: input.assigneeId ?? null, createdAt: new Date() }
    tasks.insertOne(task)
      .then(() => publish(JSON.stringify({ type: "task.created", taskId: task._id, recipient: task.assigneeId, title: task.title, createdAt: task.createdAt.getTime() })))
      .then(
        () => {
          response.writeHead(201, { "content-type": "application/json" })
          response.end(JSON.stringify({ id: task._id, createdAt: task.createdAt.toISOString() }))
        },
        () => response.writeHead(500).end()
      )
  })
}).listen(Number(process.env.PORT ?? 9000), "127.0.0.1")
