/**
 * The contract between the connection (framing, ordering, writing) and one API's handler.
 *
 * A handler module exports `apiKey`, `minVersion`, `maxVersion` and `handle`; adding an API is
 * a new file in handlers/ plus one line in handlers/index.ts. The connection decodes the
 * request body with the generated codec for `apiKey`, calls `handle`, and encodes a
 * `{ kind: 'message' }` reply with the same codec, in the request's version. `handle` must
 * start any work whose order matters (appends) synchronously, before its first `await`:
 * requests of one connection are dispatched in arrival order but may complete out of order.
 */
import { Buffer } from 'node:buffer'
import type { RequestHeader } from '../protocol/headers.js'
import type { EncodeInput } from '../protocol/primitives.js'
import { releaseFileSource, type SendFileSource } from './send-file.js'
import type { NodeContext } from '../core/node-context.js'
import type { BrokerLogger } from './logger.js'
import type { SaslSession } from './sasl-session.js'
import type { RequestAccess } from './request-authorization.js'
import type { BrokerSecurity } from './broker-security.js'
import type { FetchSessionCache } from './fetch-sessions.js'

/** One API version range as ApiVersions advertises it. */
export interface ApiVersionRange {
  apiKey: number
  minVersion: number
  maxVersion: number
}

export interface ConnectionInfo {
  /** Unique per broker process, for logs. */
  id: number
  remoteAddress: string
  remotePort: number
  /** The address and port this broker is reached at on this connection (what Metadata advertises). */
  advertisedHost: string
  advertisedPort: number
  /** The listener the connection came in on (named by its security protocol): cluster answers name each broker's endpoint on it. */
  listener: string
}

/** Told what a Fetch response carries from each partition (per partition per response, never per record). */
export interface FetchMeter {
  fetched(topic: string, partition: number, bytes: number, records: number): void
}

export interface RequestContext {
  readonly broker: NodeContext
  readonly header: RequestHeader
  /** `header.apiVersion`, for brevity. */
  readonly version: number
  readonly connection: ConnectionInfo
  readonly log: BrokerLogger
  /** What this broker implements (handlers/index.ts): ApiVersions answers with it. */
  readonly supportedApis: readonly ApiVersionRange[]
  /** Aborted when the connection closes or the server stops: long polls stop waiting. */
  readonly signal: AbortSignal
  /** Set when metrics are on: Fetch reports the bytes and records it sends per partition. */
  readonly fetchMeter?: FetchMeter
  /** The connection's listener protocol and authentication state (SaslHandshake, SaslAuthenticate). */
  readonly session?: SaslSession
  /** What this request's principal may do (request-authorization.ts); every check passes with the authorizer off. */
  readonly access: RequestAccess
  /** Credentials and ACLs, for the APIs that manage them. */
  readonly security?: BrokerSecurity
  /** The broker's fetch sessions (KIP-227); without it every fetch is sessionless. */
  readonly fetchSessions?: FetchSessionCache
}

/** A byte range of a segment file, streamed into the response where it stands. */
export interface FileRangePart {
  file: SendFileSource
  position: number
  length: number
}

/** Bytes made while the response is written (Fetch v0-3 down-conversion): exactly `length` of them. */
export interface GeneratedPart {
  length: number
  chunks(): AsyncIterable<Buffer>
  /** Frees what the part holds (a segment file descriptor), after it is written or dropped. */
  release(): void
}

export type ResponsePart = Buffer | FileRangePart | GeneratedPart

export type HandlerReply<Res> =
  /** Encoded with the API's response codec in the request's version. */
  | { kind: 'message'; message: EncodeInput<Res> }
  /** The response body already split into bytes and file ranges (Fetch). */
  | { kind: 'parts'; parts: ResponsePart[] }
  /** No response at all (Produce with acks=0). */
  | { kind: 'none' }
  /** No response, and the connection closes once earlier responses are written (acks=0 failures, as Kafka does). */
  | { kind: 'close'; reason: string }

export interface ApiHandler<Req, Res> {
  readonly apiKey: number
  readonly minVersion: number
  readonly maxVersion: number
  handle(request: Req, ctx: RequestContext): HandlerReply<Res> | Promise<HandlerReply<Res>>
}

/** The handler list's element type (each handler's own request/response types erased). */
export type AnyApiHandler = ApiHandler<unknown, unknown>

export function reply<Res>(message: EncodeInput<Res>): HandlerReply<Res> {
  return { kind: 'message', message }
}

export function isFileRangePart(part: ResponsePart): part is FileRangePart {
  return !Buffer.isBuffer(part) && 'file' in part
}

export function isGeneratedPart(part: ResponsePart): part is GeneratedPart {
  return !Buffer.isBuffer(part) && 'chunks' in part
}

/** Frees what a part holds: a file range's descriptor, a generated part's source. */
export function releasePart(part: ResponsePart): void {
  if (isFileRangePart(part)) releaseFileSource(part.file)
  else if (isGeneratedPart(part)) part.release()
}
