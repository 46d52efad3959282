/**
 * What producers, consumers and the admin share with the log that made them: the broker
 * context (with its group coordinator wired) and whether the log is still open.
 */
import type { BrokerContext } from '../core/node-context.js'
import { LogClosedError } from '../errors.js'
import type { GroupCoordinator } from '../groups/group-coordinator.js'

export type EmbeddedContext = BrokerContext & { groups: GroupCoordinator }

export interface LogHost {
  readonly context: EmbeddedContext
  readonly closed: boolean
  /** A producer or consumer is done (disconnected): the log no longer needs to close it. */
  release(client: object): void
}

export function assertLogOpen(host: LogHost): void {
  if (host.closed) throw new LogClosedError('the log is closed')
}
