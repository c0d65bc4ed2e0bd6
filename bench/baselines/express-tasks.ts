/** Baseline (b), the older platform's task service: Express reading the task from MongoDB. */
import express from "express"
import { MongoClient } from "mongodb"

const client = await new MongoClient(process.env.MONGODB_URL ?? "mongodb://127.0.0.1:27017").connect()
const tasks = client.db(process.env.MONGODB_DATABASE ?? "herald").collection<{ _id: string }>("tasks")

const app = express()
app.get("/api/tasks/:id", async (request, response) => {
  const task = await tasks.findOne({ _id: request.params.id })
  if (task === null) response.status(404).json({ error: "not found" })
  else response.json(task)
})
app.listen(Number(process.env.PORT ?? 9001), "127.0.0.1")
