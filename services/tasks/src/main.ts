import * as Logging from "@herald/infra/Logging"
import * as Main from "@herald/infra/Main"
import * as Platform from "@herald/infra/Platform"
import * as Server from "@herald/infra/Server"
import { ServiceUrls } from "@herald/infra/ServiceClients"
import { Layer } from "effect"
import * as Tasks from "./Service.ts"

Server.serveInternal({ routes: Tasks.routes, readiness: Tasks.Readiness, defaultPort: 8082, defaultMetricsPort: 9182 }).pipe(
  Layer.provide([Platform.store, Platform.broker, ServiceUrls.fromConfig]),
  Layer.provide(Logging.layer),
  (app) => Main.run("tasks", app)
)
