import * as Logging from "@herald/infra/Logging"
import * as Main from "@herald/infra/Main"
import * as Platform from "@herald/infra/Platform"
import * as Server from "@herald/infra/Server"
import { ServiceUrls } from "@herald/infra/ServiceClients"
import { Layer } from "effect"
import * as Notifications from "./Service.ts"

Server.serveInternal({ routes: Notifications.routes, readiness: Notifications.Readiness, defaultPort: 8083, defaultMetricsPort: 9183 }).pipe(
  Layer.provide([Platform.store, Platform.broker, Platform.redisCapabilities, ServiceUrls.fromConfig]),
  Layer.provide(Logging.layer),
  (app) => Main.run("notifications", app)
)
