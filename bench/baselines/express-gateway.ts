/**
 * Baseline (b), the older platform's front: Express with express-rate-limit on a Redis store, proxying to the
 * Express task service.
 */
import express from "express"
import { rateLimit } from "express-rate-limit"
import { createProxyMiddleware } from "http-proxy-middleware"
import { Redis } from "ioredis"
import { RedisStore, type RedisReply } from "rate-limit-redis"

const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379")
const app = express()
app.use(rateLimit({
  windowMs: 12 * 60 * 1000,
  limit: 1_000_000_000,
  standardHeaders: "draft-7",
  legacyHeaders: false,
  store: new RedisStore({
    prefix: `${process.env.REDIS_PREFIX ?? "bench:"}erl:`,
    sendCommand: (command: string, ...args: Array<string>) => redis.call(command, ...args) as Promise<RedisReply>
  })
}))
app.use(createProxyMiddleware({ target: process.env.TASKS_URL ?? "http://127.0.0.1:9001", changeOrigin: false }))
app.listen(Number(process.env.PORT ?? 9002), "127.0.0.1")
