/**
 * Reference (c): Effect's HttpApi serving `GET /api/tasks/:id` with Herald's `Task` schema from one database read,
 * nothing else; Herald's ratio to it is the cost of its own features (bench/README.md).
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { TaskId } from "@herald/domain/Ids"
import { Task } from "@herald/domain/Task"
import { Effect, Layer, Schema } from "effect"
import { MongoClient } from "mongodb"
// The same mapping from stored document to response as the tasks service (its repository's, not a copy).
import { type TaskDoc, toTask } from "../../services/tasks/src/TaskRepo.ts"
import { createServer } from "node:http"

class TaskNotFound extends Schema.TaggedError<TaskNotFound>()("TaskNotFound", {}) {}

const FloorApi = HttpApi.make("floor").add(
  HttpApiGroup.make("tasks").add(
    HttpApiEndpoint.get("get", "/api/tasks/:id")
      .setPath(Schema.Struct({ id: TaskId }))
      .addSuccess(Task)
      .addError(TaskNotFound, { status: 404 })
  )
)

const client = await new MongoClient(process.env.MONGODB_URL ?? "mongodb://127.0.0.1:27017").connect()
const tasks = client.db(process.env.MONGODB_DATABASE ?? "herald").collection<TaskDoc>("tasks")

const TasksLive = HttpApiBuilder.group(FloorApi, "tasks", (handlers) =>
  handlers.handle("get", ({ path }) =>
    Effect.promise(() => tasks.findOne({ _id: path.id })).pipe(
      Effect.flatMap((doc) => (doc === null ? Effect.fail(new TaskNotFound()) : Effect.succeed(toTask(doc, doc.ownerId))))
    )))

HttpLayerRouter.serve(HttpLayerRouter.addHttpApi(FloorApi).pipe(Layer.provide(TasksLive))).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { port: Number(process.env.PORT ?? 9002), host: "127.0.0.1" })),
  Layer.launch,
  NodeRuntime.runMain
)
