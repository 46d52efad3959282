/**
 * What a connection tells whoever watches the broker (metrics, debug logs, lifecycle logs):
 * connections opening and closing, and each request once its reply is known. The connection
 * calls these only when an observer is set, and does nothing else for it.
 */
import type { RequestHeader } from '../protocol/headers.js'
import type { ConnectionInfo, FetchMeter, HandlerReply } from './handler.js'

export type { FetchMeter }

export interface RequestOutcome {
  connection: ConnectionInfo
  header: RequestHeader
  /** The API's name as the codec knows it ("Produce", "Fetch", ...). */
  api: string
  /** The decoded request body. */
  request: unknown
  reply: HandlerReply<unknown>
  /** process.hrtime.bigint() when the request was decoded. */
  startedNs: bigint
}

export interface RequestObserver {
  connectionOpened(connection: ConnectionInfo): void
  connectionClosed(connection: ConnectionInfo): void
  requestDone(outcome: RequestOutcome): void
}
