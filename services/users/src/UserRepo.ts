import { UserNotFound } from "@herald/domain/Errors"
import { UserId } from "@herald/domain/Ids"
import { User } from "@herald/domain/User"
import { DocumentStore } from "@herald/infra/Store"
import { Clock, Effect, Option, Schema } from "effect"

export const UserDoc = Schema.Struct({
  _id: UserId,
  email: Schema.String,
  passwordHash: Schema.String,
  name: Schema.String,
  version: Schema.Int,
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf
})
export type UserDoc = typeof UserDoc.Type

export const toUser = (doc: UserDoc): User =>
  new User({ id: doc._id, email: doc.email, name: doc.name, createdAt: doc.createdAt, updatedAt: doc.updatedAt })

const isUserId = Schema.is(UserId)

/** Accounts in MongoDB: the unique index on `email` is what makes two racing registrations yield one account. */
export class UserRepo extends Effect.Service<UserRepo>()("Herald/UserRepo", {
  scoped: Effect.gen(function*() {
    const store = yield* DocumentStore
    const users = yield* store.collection({
      name: "users",
      schema: UserDoc,
      indexes: [{ keys: { email: 1 }, unique: true }]
    })
    const notFound = () => new UserNotFound({ message: "user not found" })
    return {
      insert: users.insertOne,
      findByEmail: (email: string) => users.findOne({ email }),
      findMany: (ids: ReadonlyArray<UserId>) => users.find({ _id: { $in: ids } }),
      findById: (id: string) => isUserId(id) ? users.findOne({ _id: id }) : Effect.succeed(Option.none()),
      get: (id: UserId) =>
        Effect.flatMap(users.findOne({ _id: id }), Option.match({ onNone: () => Effect.fail(notFound()), onSome: Effect.succeed })),
      rename: (id: UserId, name: string) =>
        Effect.gen(function*() {
          const now = new Date(yield* Clock.currentTimeMillis)
          const updated = yield* users.findOneAndUpdate(
            { _id: id },
            { $set: { name, updatedAt: now }, $inc: { version: 1 } },
            { returnDocument: "after" }
          ).pipe(Effect.catchTag("DuplicateKey", (error) => Effect.die(error)))
          return yield* Option.match(updated, { onNone: () => Effect.fail(notFound()), onSome: Effect.succeed })
        })
    }
  })
}) {}
