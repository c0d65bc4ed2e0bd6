import { ulidAt } from "@herald/domain/Ids"
import * as amqp from "amqplib"

/** Who else a task event concerns: its project, assignee and audience (watchers, members at `projectVersion`). */
export interface TaskContext {
  readonly projectId: string | null
  readonly assigneeId: string | null
  readonly audience: { readonly watchers: ReadonlyArray<string>; readonly memberIds: ReadonlyArray<string>; readonly projectVersion: number | null }
}

const privateTask = (userId: string): TaskContext => ({ projectId: null, assigneeId: null, audience: { watchers: [userId], memberIds: [userId], projectVersion: null } })

/**
 * A `task.created` event as the tasks service would publish it (encoded), made by `userId` (the actor, who is never
 * told of it) with a sequence number; by default a private task of theirs.
 */
export const taskCreated = (userId: string, seq: number, at = new Date(), context: TaskContext = privateTask(userId), title = `seq-${seq}`) => {
  const taskId = `tsk_${ulidAt(at.getTime())}`
  const iso = at.toISOString()
  const { assigneeId, audience, projectId } = context
  return {
    id: `evt_${ulidAt(at.getTime())}`,
    type: "task.created",
    schemaVersion: 1,
    occurredAt: iso,
    aggregateId: taskId,
    aggregateVersion: 1,
    userId,
    data: {
      task: { id: taskId, projectId, title, description: "", priority: "medium", status: "todo", dueDate: null, assigneeId, watching: true, version: 1, createdAt: iso, updatedAt: iso },
      audience
    }
  }
}

export const userIds = (count: number) => Array.from({ length: count }, () => `usr_${ulidAt(Date.now())}`)

/** Publishes bodies to the exchange with publisher confirms, as the outbox relay does. */
export const publish = async (
  url: string,
  exchange: string,
  messages: ReadonlyArray<{ readonly routingKey: string; readonly body: string; readonly messageId?: string }>
) => {
  const connection = await amqp.connect(url)
  try {
    const channel = await connection.createConfirmChannel()
    await channel.assertExchange(exchange, "topic", { durable: true })
    for (const message of messages) {
      channel.publish(exchange, message.routingKey, Buffer.from(message.body), {
        persistent: true,
        ...(message.messageId !== undefined ? { messageId: message.messageId } : {})
      })
    }
    await channel.waitForConfirms()
  } finally {
    await connection.close()
  }
}

/** Takes every message waiting in a queue. */
export const drain = async (url: string, queue: string) => {
  const connection = await amqp.connect(url)
  try {
    const channel = await connection.createChannel()
    const messages: Array<amqp.GetMessage> = []
    for (;;) {
      const message = await channel.get(queue, { noAck: true })
      if (message === false) break
      messages.push(message)
    }
    return messages
  } finally {
    await connection.close()
  }
}

/**
 * An `export.completed` event: only the notifications consumer takes these (task events also feed the counters
 * projector), so a test of the consumer measures the consumer.
 */
export const exportCompleted = (userId: string, seq: number, at = new Date()) => {
  const exportId = `exp_${ulidAt(at.getTime())}`
  return {
    id: `evt_${ulidAt(at.getTime())}`,
    type: "export.completed",
    schemaVersion: 1,
    occurredAt: at.toISOString(),
    aggregateId: exportId,
    aggregateVersion: 2,
    userId,
    data: { exportId, format: "csv", taskCount: seq, downloadPath: `/api/exports/${exportId}/download` }
  }
}
