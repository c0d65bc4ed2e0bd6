import * as Logging from "@herald/infra/Logging"
import * as Main from "@herald/infra/Main"
import * as Platform from "@herald/infra/Platform"
import * as Server from "@herald/infra/Server"
import { Layer } from "effect"
import * as Users from "./Service.ts"

Server.serveInternal({ routes: Users.routes, readiness: Users.Readiness, defaultPort: 8081, defaultMetricsPort: 9181 }).pipe(
  Layer.provide([Platform.store, Platform.broker, Platform.redisCapabilities]),
  Layer.provide(Logging.layer),
  (app) => Main.run("users", app)
)
