import * as Logging from "@herald/infra/Logging"
import * as Main from "@herald/infra/Main"
import * as Metrics from "@herald/infra/Metrics"
import * as Platform from "@herald/infra/Platform"
import { listen } from "@herald/infra/Server"
import { Layer } from "effect"
import { ServiceUrls } from "@herald/infra/ServiceClients"
import * as Gateway from "./Routes.ts"

Gateway.serve().pipe(
  Layer.provide(listen(8080)),
  Layer.merge(Metrics.serve(9180)),
  Layer.provide([ServiceUrls.fromConfig, Platform.redisCapabilities]),
  Layer.provide(Logging.layer),
  (app) => Main.run("gateway", app)
)
