/**
 * How a failed command reports itself: one line, `ringlog: <message>`, on stderr. Whatever
 * the error (a RinglogError, a Node system error, a commander usage error), the user gets its
 * message on one line and no stack trace.
 */

/** The message of `error` flattened to one line ("" never: falls back to the error's name). */
export function errorMessage(error: unknown): string {
  let text: string
  if (error instanceof AggregateError && error.message === '') {
    // Node's connect with several addresses (localhost: ::1 and 127.0.0.1) fails with an empty AggregateError.
    text = error.errors.map(errorMessage).join('; ')
  } else if (error instanceof Error) {
    text = error.message || error.name
  } else {
    text = String(error)
  }
  // Commander prefixes its messages with "error: " and puts suggestions on a line of their own.
  return text.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim()
}

/** The line a failed command prints on stderr. */
export function errorLine(error: unknown): string {
  return `ringlog: ${errorMessage(error)}\n`
}
