import * as Logging from "@herald/infra/Logging"
import * as Main from "@herald/infra/Main"
import * as Platform from "@herald/infra/Platform"
import { Layer } from "effect"
import { Herald } from "./Herald.ts"

Herald.pipe(
  Layer.provide([Platform.store, Platform.broker, Platform.redisCapabilities]),
  Layer.provide(Logging.layer),
  (app) => Main.run("herald", app)
)
