/**
 * Pipeline baseline (b), the seed's task service: Express saving the task to MongoDB, then publishing its event on a
 * confirm channel and answering 201 once the broker confirmed. Sits behind express-gateway.ts (rate limit + proxy).
 */
import amqp from "amqplib"
import express from "express"
import { MongoClient } from "mongodb"
import { randomUUID } from "node:crypto"

const client = await new MongoClient(process.env.MONGODB_URL ?? "mongodb://127.0.0.1:27017").connect()
const tasks = client.db(process.env.MONGODB_DATABASE ?? "herald").collection<{ _id: string }>("tasks")
const connection = await amqp.connect(process.env.AMQP_URL ?? "amqp://127.0.0.1")
const channel = await connection.createConfirmChannel()
const queue = process.env.BENCH_QUEUE ?? "bench.pipeline"
await channel.assertQueue(queue, { durable: true })

const app = express()
app.use(express.json())
app.post("/api/tasks", async (request, response) => {
  const input: { title?: unknown; assigneeId?: unknown } = request.body ?? {}
  const task = {
    _id: randomUUID(),
    title: String(input.title ?? ""),
    assigneeId: typeof input.assigneeId === "string" ? input.assigneeId : null,
    createdAt: new Date()
  }
  try {
    await tasks.insertOne(task)
    const event = { type: "task.created", taskId: task._id, recipient: task.assigneeId, title: task.title, createdAt: task.createdAt.getTime() }
    channel.publish("", queue, Buffer.from(JSON.stringify(event)), { persistent: true })
    await channel.waitForConfirms()
    response.status(201).json({ id: task._id, createdAt: task.createdAt.toISOString() })
  } catch {
    response.status(500).json({ error: "failed" })
  }
})
app.listen(Number(process.env.PORT ?? 9001), "127.0.0.1")
