import { Config, ConfigError, Either, Redacted } from "effect"

/**
 * Secrets from configuration. `.env.example` ships placeholders (`change-me-to-a-long-random-string`); a secret that
 * still holds one was never set, and running with it is as open as running with none.
 */

/** True for the placeholders of `.env.example` (`change-me…`, `changeme…`). */
export const isPlaceholder = (value: string): boolean => /^change-?me/i.test(value.trim())

/** `config`, refused with `message` (naming `name`: `Config.validate` loses the path) when `valid` says no. */
const checked = (name: string, message: string, valid: (value: string) => boolean) =>
  Config.redacted(name).pipe(
    Config.mapOrFail((value) =>
      valid(Redacted.value(value)) ? Either.right(value) : Either.left(ConfigError.InvalidData([name], message))
    )
  )

/** A required secret: missing, empty or a placeholder stops start-up with a message naming `name`. */
export const required = (name: string): Config.Config<Redacted.Redacted> =>
  checked(name, "is the placeholder of .env.example: set a long random value (openssl rand -base64 32)", (secret) =>
    !isPlaceholder(secret))

/** The password of a server URL (`amqp://user:password@host`), when it has one that parses. */
const passwordOf = (url: string): string => {
  try {
    return decodeURIComponent(new URL(url).password)
  } catch {
    return ""
  }
}

/** A server URL whose password, if any, is not a placeholder of `.env.example`. */
export const url = (name: string): Config.Config<Redacted.Redacted> =>
  checked(name, "has the placeholder password of .env.example: set a real one", (value) => !isPlaceholder(passwordOf(value)))
