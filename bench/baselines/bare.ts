/**
 * Baseline (a): the floor of what Node can do for `GET /api/tasks/:id` — a bare node:http server doing the same
 * database read, with no authentication, rate limit, RPC or schema work.
 */
import { MongoClient } from "mongodb"
import { createServer } from "node:http"

const client = await new MongoClient(process.env.MONGODB_URL ?? "mongodb://127.0.0.1:27017").connect()
const tasks = client.db(process.env.MONGODB_DATABASE ?? "herald").collection<{ _id: string }>("tasks")

createServer((request, response) => {
  const id = /^\/api\/tasks\/([\w-]+)$/.exec(request.url ?? "")?.[1]
  if (id === undefined) {
    response.writeHead(404).end()
    return
  }
  tasks.findOne({ _id: id }).then(
    (task) => {
      response.writeHead(task === null ? 404 : 200, { "content-type": "application/json" })
      response.end(JSON.stringify(task))
    },
    () => response.writeHead(500).end()
  )
}).listen(Number(process.env.PORT ?? 9000), "127.0.0.1")
