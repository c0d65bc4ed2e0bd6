/** Pipeline baselines (a) and (b), the consumer: one notification inserted per event, acked after the insert (bench/README.md). */
import amqp from "amqplib"
import { MongoClient } from "mongodb"
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"

const client = await new MongoClient(process.env.MONGODB_URL ?? "mongodb://127.0.0.1:27017").connect()
const notifications = client.db(process.env.MONGODB_DATABASE ?? "herald").collection<{ _id: string }>("notifications")
const connection = await amqp.connect(process.env.AMQP_URL ?? "amqp://127.0.0.1")
const channel = await connection.createChannel()
const queue = process.env.BENCH_QUEUE ?? "bench.pipeline"
await channel.assertQueue(queue, { durable: true })
await channel.prefetch(64)
await channel.consume(queue, (message) => {
  if (message === null) return
  const event = JSON.parse(message.content.toString()) as { taskId: string; recipient: string | null; title: string; createdAt: number }
  const doc = {
    _id: randomUUID(),
    userId: event.recipient,
    type: "task.assigned",
    title: `Someone assigned you '${event.title}'`,
    data: { taskId: event.taskId, taskCreatedAt: event.createdAt },
    read: false,
    createdAt: new Date()
  }
  notifications.insertOne(doc).then(() => channel.ack(message), () => channel.nack(message))
})
// Listening on PORT tells the harness that it is ready (startService waits for the port).
createServer((_, response) => response.writeHead(204).end()).listen(Number(process.env.PORT ?? 9003), "127.0.0.1")
