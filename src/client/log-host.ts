/**
 * What producers, consumers and the admin share with the log that made them: the node
 * context and whether the log is still open.
 */
import type { NodeContext } from '../core/node-context.js'
import { LogClosedError } from '../errors.js'

export interface LogHost {
  readonly context: NodeContext
  readonly closed: boolean
  /** A producer or consumer is done (disconnected): the log no longer needs to close it. */
  release(client: object): void
}

export function assertLogOpen(host: LogHost): void {
  if (host.closed) throw new LogClosedError('the log is closed')
}
