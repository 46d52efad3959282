/**
 * ringlog's one Kafka wire client, built on the generated codecs: the command-line tools
 * (topics, produce, consume, groups), the load generator and the tests all talk through it.
 *
 * - Requests may be pipelined. Kafka answers a connection's requests in the order they were
 *   sent, so pending requests form a FIFO (an array with a head index: no shift per response);
 *   each response must carry the correlation id of the oldest pending request, anything else
 *   is a protocol failure that ends the connection.
 * - Two ways to send. `request()` encodes through the codecs and returns a promise, with one
 *   timer per request: a request that times out is rejected but stays in the queue (marked
 *   abandoned), so its late response is still matched and dropped instead of desynchronising
 *   later requests. `sendFrame()` writes a pre-encoded frame after patching only its
 *   correlation id and answers through a callback, with no promise and no timer: the load
 *   generator's hot produce path.
 * - ApiVersions responses use header v0 (headers.ts); a broker that does not know the version
 *   asked answers with a v0 body and UNSUPPORTED_VERSION, which `negotiate()` handles by
 *   retrying with the highest ApiVersions version both sides know (KIP-511).
 * - `negotiate()` records the broker's ranges; `version(apiKey)` then picks the highest version
 *   both this client's codecs and the broker support.
 */
import { connect, isIP, type Socket } from 'node:net'
import { connect as connectTls, type ConnectionOptions as TlsConnectionOptions } from 'node:tls'
import { ErrorCode, errorCodeName } from '../protocol/error-codes.js'
import { FrameDecoder } from '../protocol/frame.js'
import { DirectFrameReader } from './direct-frame-reader.js'
import { decodeResponseHeader, encodeRequestHeader, responseHeaderVersion } from '../protocol/headers.js'
import { API_CODECS, type ApiCodec } from '../protocol/messages/index.js'
import type { ApiVersionsRequest, ApiVersionsResponse } from '../protocol/messages/api-versions.js'
import type { CreateTopicsRequest, CreateTopicsResponse } from '../protocol/messages/create-topics.js'
import type { DeleteTopicsRequest, DeleteTopicsResponse } from '../protocol/messages/delete-topics.js'
import type { DescribeGroupsRequest, DescribeGroupsResponse } from '../protocol/messages/describe-groups.js'
import type { FetchRequest, FetchResponse } from '../protocol/messages/fetch.js'
import type { FindCoordinatorRequest, FindCoordinatorResponse } from '../protocol/messages/find-coordinator.js'
import type { HeartbeatRequest, HeartbeatResponse } from '../protocol/messages/heartbeat.js'
import type { InitProducerIdRequest, InitProducerIdResponse } from '../protocol/messages/init-producer-id.js'
import type { JoinGroupRequest, JoinGroupResponse } from '../protocol/messages/join-group.js'
import type { LeaveGroupRequest, LeaveGroupResponse } from '../protocol/messages/leave-group.js'
import type { ListGroupsRequest, ListGroupsResponse } from '../protocol/messages/list-groups.js'
import type { ListOffsetsRequest, ListOffsetsResponse } from '../protocol/messages/list-offsets.js'
import type { MetadataRequest, MetadataResponse } from '../protocol/messages/metadata.js'
import type { OffsetCommitRequest, OffsetCommitResponse } from '../protocol/messages/offset-commit.js'
import type { OffsetFetchRequest, OffsetFetchResponse } from '../protocol/messages/offset-fetch.js'
import type { OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse } from '../protocol/messages/offset-for-leader-epoch.js'
import type { ProduceRequest, ProduceResponse } from '../protocol/messages/produce.js'
import type { SyncGroupRequest, SyncGroupResponse } from '../protocol/messages/sync-group.js'
import type { SaslHandshakeRequest, SaslHandshakeResponse } from '../protocol/messages/sasl-handshake.js'
import type { SaslAuthenticateRequest, SaslAuthenticateResponse } from '../protocol/messages/sasl-authenticate.js'
import type { DescribeAclsRequest, DescribeAclsResponse } from '../protocol/messages/describe-acls.js'
import type { CreateAclsRequest, CreateAclsResponse } from '../protocol/messages/create-acls.js'
import type { DeleteAclsRequest, DeleteAclsResponse } from '../protocol/messages/delete-acls.js'
import type { DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse } from '../protocol/messages/describe-user-scram-credentials.js'
import type { AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse } from '../protocol/messages/alter-user-scram-credentials.js'
import type { DeleteRecordsRequest, DeleteRecordsResponse } from '../protocol/messages/delete-records.js'
import type { DescribeConfigsRequest, DescribeConfigsResponse } from '../protocol/messages/describe-configs.js'
import type { CreatePartitionsRequest, CreatePartitionsResponse } from '../protocol/messages/create-partitions.js'
import type { DeleteGroupsRequest, DeleteGroupsResponse } from '../protocol/messages/delete-groups.js'
import type { IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse } from '../protocol/messages/incremental-alter-configs.js'
import type { DescribeClusterRequest, DescribeClusterResponse } from '../protocol/messages/describe-cluster.js'
import type { WriteTxnMarkersRequest, WriteTxnMarkersResponse } from '../protocol/messages/write-txn-markers.js'
import { Reader, Writer, type EncodeInput } from '../protocol/primitives.js'

export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteTopics: 20,
  InitProducerId: 22,
  OffsetForLeaderEpoch: 23,
  SaslHandshake: 17,
  DescribeAcls: 29,
  CreateAcls: 30,
  DeleteAcls: 31,
  SaslAuthenticate: 36,
  DescribeUserScramCredentials: 50,
  AlterUserScramCredentials: 51,
  DeleteRecords: 21,
  DescribeConfigs: 32,
  CreatePartitions: 37,
  DeleteGroups: 42,
  IncrementalAlterConfigs: 44,
  WriteTxnMarkers: 27,
  DescribeCluster: 60,
} as const

/** Request and response types per api key, so `request()` is typed by the key it is given. */
export interface ApiMessages {
  0: { request: ProduceRequest; response: ProduceResponse }
  1: { request: FetchRequest; response: FetchResponse }
  2: { request: ListOffsetsRequest; response: ListOffsetsResponse }
  3: { request: MetadataRequest; response: MetadataResponse }
  8: { request: OffsetCommitRequest; response: OffsetCommitResponse }
  9: { request: OffsetFetchRequest; response: OffsetFetchResponse }
  10: { request: FindCoordinatorRequest; response: FindCoordinatorResponse }
  11: { request: JoinGroupRequest; response: JoinGroupResponse }
  12: { request: HeartbeatRequest; response: HeartbeatResponse }
  13: { request: LeaveGroupRequest; response: LeaveGroupResponse }
  14: { request: SyncGroupRequest; response: SyncGroupResponse }
  15: { request: DescribeGroupsRequest; response: DescribeGroupsResponse }
  16: { request: ListGroupsRequest; response: ListGroupsResponse }
  18: { request: ApiVersionsRequest; response: ApiVersionsResponse }
  19: { request: CreateTopicsRequest; response: CreateTopicsResponse }
  20: { request: DeleteTopicsRequest; response: DeleteTopicsResponse }
  22: { request: InitProducerIdRequest; response: InitProducerIdResponse }
  23: { request: OffsetForLeaderEpochRequest; response: OffsetForLeaderEpochResponse }
  17: { request: SaslHandshakeRequest; response: SaslHandshakeResponse }
  29: { request: DescribeAclsRequest; response: DescribeAclsResponse }
  30: { request: CreateAclsRequest; response: CreateAclsResponse }
  31: { request: DeleteAclsRequest; response: DeleteAclsResponse }
  36: { request: SaslAuthenticateRequest; response: SaslAuthenticateResponse }
  50: { request: DescribeUserScramCredentialsRequest; response: DescribeUserScramCredentialsResponse }
  51: { request: AlterUserScramCredentialsRequest; response: AlterUserScramCredentialsResponse }
  21: { request: DeleteRecordsRequest; response: DeleteRecordsResponse }
  32: { request: DescribeConfigsRequest; response: DescribeConfigsResponse }
  37: { request: CreatePartitionsRequest; response: CreatePartitionsResponse }
  42: { request: DeleteGroupsRequest; response: DeleteGroupsResponse }
  44: { request: IncrementalAlterConfigsRequest; response: IncrementalAlterConfigsResponse }
  27: { request: WriteTxnMarkersRequest; response: WriteTxnMarkersResponse }
  60: { request: DescribeClusterRequest; response: DescribeClusterResponse }
}

export type KnownApiKey = keyof ApiMessages
export type RequestOf<K extends KnownApiKey> = EncodeInput<ApiMessages[K]['request']>
export type ResponseOf<K extends KnownApiKey> = ApiMessages[K]['response']

export type WireClientErrorKind = 'connect' | 'timeout' | 'closed' | 'protocol' | 'unsupported-version' | 'auth'

export class WireClientError extends Error {
  constructor(readonly kind: WireClientErrorKind, message: string) {
    super(message)
    this.name = 'WireClientError'
  }
}

export interface WireClientOptions {
  clientId?: string
  /** Default 10000 ms. */
  connectTimeoutMs?: number
  /** Default for every request, 30000 ms. */
  requestTimeoutMs?: number
  /** Largest response frame accepted, default 256 MiB. */
  maxResponseBytes?: number
  /** Connect with TLS (an SSL or SASL_SSL listener): CA, client certificate and key, as node:tls takes them. */
  tls?: TlsConnectionOptions
  /**
   * Plain TCP only: large response frames are read straight into their own buffer (see
   * direct-frame-reader.ts) instead of being joined from 64 KiB chunks. For connections that
   * receive large responses (replica fetchers); small frames cost one copy out of a scratch buffer.
   */
  directReads?: boolean
  /** With directReads: where each response frame is read (undefined from it: a heap buffer of its own). */
  frameAllocator?: (size: number) => Buffer | undefined
}

export interface VersionRange {
  minVersion: number
  maxVersion: number
}

/**
 * Splits `host:port` (IPv6 as `[::1]:9092`); a missing port means 9092. Of a comma-separated
 * bootstrap list the first entry is used: ringlog is a single broker.
 */
export function parseHostPort(address: string): { host: string; port: number } {
  const spec = address.split(',')[0].trim()
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(spec)
  const match = bracketed ?? /^([^:]+)(?::(\d+))?$/.exec(spec)
  if (!match) throw new WireClientError('connect', `bad address "${spec}": expected host:port`)
  const port = match[2] === undefined ? 9092 : Number(match[2])
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new WireClientError('connect', `bad port in "${spec}"`)
  return { host: match[1], port }
}

/** Called with the whole response frame (size prefix excluded) and where its body starts, or an error. */
export type ResponseCallback = (error: Error | null, frame: Buffer | null, bodyOffset: number) => void

interface Pending {
  correlationId: number
  headerVersion: 0 | 1
  /** Set when the caller gave up (timeout): the response is matched and dropped. */
  abandoned: boolean
  settle: ResponseCallback
}

/** Byte position of the correlation id in a request frame that starts with its 4-byte size prefix. */
export const CORRELATION_ID_POSITION = 8

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024
const MAX_CORRELATION_ID = 0x7fffffff
/** Answered entries are cut from the front of the queue once there are this many (and they are most of it). */
const COMPACT_AFTER = 1024

/** The generated codec of `apiKey`, typed by its request and response. */
export function codecFor<K extends KnownApiKey>(apiKey: K): ApiCodec<ApiMessages[K]['request'], ApiMessages[K]['response']>
export function codecFor(apiKey: number): ApiCodec
export function codecFor(apiKey: number): ApiCodec {
  const codec = API_CODECS.get(apiKey)
  if (!codec) throw new WireClientError('unsupported-version', `no codec for api key ${apiKey}`)
  return codec
}

/**
 * A whole request frame: size prefix, request header, body. `initialCapacity` avoids regrowing
 * the buffer for large bodies (produce batches); the frame is the writer's own buffer, not a copy.
 */
export function encodeRequestFrame(apiKey: number, version: number, correlationId: number, clientId: string, body: unknown, initialCapacity = 1024): Buffer {
  const codec = codecFor(apiKey)
  const w = new Writer(initialCapacity)
  w.int32(0)
  encodeRequestHeader(w, { apiKey, apiVersion: version, correlationId, clientId })
  codec.encodeRequest(w, version, body as never)
  w.setInt32(0, w.length - 4)
  return w.finish()
}

/**
 * Decodes a response body. ApiVersions is the exception to "the body has the version asked":
 * a broker that does not know the version replies with a v0 body and UNSUPPORTED_VERSION.
 * Its error code is the first field in every version, so it can be read before choosing.
 */
export function decodeResponseBody(apiKey: number, version: number, frame: Buffer, bodyOffset: number): unknown {
  const codec = codecFor(apiKey)
  if (apiKey === ApiKey.ApiVersions && version > 0 && frame.length >= bodyOffset + 2 && frame.readInt16BE(bodyOffset) === ErrorCode.UNSUPPORTED_VERSION) {
    return codec.decodeResponse(new Reader(frame, bodyOffset), 0)
  }
  return codec.decodeResponse(new Reader(frame, bodyOffset), version)
}

/** SNI must be a host name, never an IP address (RFC 6066); node:tls warns otherwise. */
function serverNameOf(host: string): string | undefined {
  return isIP(host) === 0 ? host : undefined
}

export class KafkaWireClient {
  private readonly decoder: FrameDecoder
  private readonly pending: Pending[] = []
  /** Index in `pending` of the oldest unanswered request. */
  private pendingHead = 0
  private nextCorrelationId = 1
  private failure: Error | null = null
  private readonly requestTimeoutMs: number
  private brokerRanges: Map<number, VersionRange> | null = null
  private readonly socketClosed: Promise<void>

  private constructor(private readonly socket: Socket, readonly host: string, readonly port: number, readonly clientId: string, options: WireClientOptions, reader?: DirectFrameReader) {
    this.decoder = new FrameDecoder(options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES)
    if (reader) reader.attach((frame) => this.onFrame(frame), (error) => this.fail(new WireClientError('protocol', `bad response frame: ${error.message}`)))
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    this.socketClosed = new Promise((resolve) => socket.once('close', () => resolve()))
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (error) => this.fail(new WireClientError('closed', `connection to ${host}:${port} failed: ${error.message}`)))
    socket.on('close', () => this.fail(new WireClientError('closed', `connection to ${host}:${port} closed`)))
  }

  static connect(host: string, port: number, options: WireClientOptions = {}): Promise<KafkaWireClient> {
    const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
    return new Promise((resolve, reject) => {
      // With TLS the connection is usable once the handshake is done ('secureConnect'), not at 'connect'.
      const reader = options.directReads && !options.tls ? new DirectFrameReader(options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, options.frameAllocator) : undefined
      const socket: Socket = options.tls
        ? connectTls({ ...options.tls, host, port, servername: options.tls.servername ?? serverNameOf(host) })
        : connect(reader ? { host, port, onread: { buffer: () => reader.nextBuffer(), callback: (bytes, buffer) => { reader.onRead(bytes, buffer as Buffer); return true } } } : { host, port })
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new WireClientError('connect', `connect to ${host}:${port} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      socket.once(options.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        resolve(new KafkaWireClient(socket, host, port, options.clientId ?? 'ringlog', options, reader))
      })
      socket.once('error', (error) => {
        clearTimeout(timer)
        reject(new WireClientError('connect', `cannot connect to ${host}:${port}: ${error.message}`))
      })
    })
  }

  /** True once the connection failed or was closed; every later request rejects. */
  get closed(): boolean {
    return this.failure !== null
  }

  /** Resolves once the socket has closed, whichever side closed it. */
  whenClosed(): Promise<void> {
    return this.socketClosed
  }

  /** Requests sent and not yet answered (abandoned ones included). */
  get inFlight(): number {
    return this.pending.length - this.pendingHead
  }

  /** The broker's advertised ranges, after `negotiate()`. */
  get brokerVersions(): ReadonlyMap<number, VersionRange> | null {
    return this.brokerRanges
  }

  /** Encodes and sends a request in `version`; resolves with the decoded response body. */
  request<K extends KnownApiKey>(apiKey: K, version: number, body: RequestOf<K>, options: { timeoutMs?: number } = {}): Promise<ResponseOf<K>> {
    let codec: ApiCodec
    let frame: Buffer
    let correlationId: number
    try {
      codec = this.checkedCodec(apiKey, version)
      correlationId = this.allocateCorrelationId()
      frame = encodeRequestFrame(apiKey, version, correlationId, this.clientId, body)
    } catch (error) {
      return Promise.reject(error as Error)
    }
    if (this.failure) return Promise.reject(this.failure)
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs
    const name = `${codec.name} v${version}`
    return new Promise<ResponseOf<K>>((resolve, reject) => {
      const timer = setTimeout(() => {
        entry.abandoned = true
        reject(new WireClientError('timeout', `${name} to ${this.host}:${this.port} got no response within ${timeoutMs} ms`))
      }, timeoutMs)
      timer.unref()
      const entry: Pending = {
        correlationId,
        headerVersion: responseHeaderVersion(apiKey, version),
        abandoned: false,
        settle: (error, response, bodyOffset) => {
          clearTimeout(timer)
          if (error) return reject(error)
          try {
            resolve(decodeResponseBody(apiKey, version, response!, bodyOffset) as ResponseOf<K>)
          } catch (decodeError) {
            reject(new WireClientError('protocol', `cannot decode ${name} response: ${(decodeError as Error).message}`))
          }
        },
      }
      this.enqueue(entry, frame)
    })
  }

  /**
   * Sends a request that gets no response (Produce with acks=0); resolves once the bytes were
   * handed to the kernel.
   */
  send<K extends KnownApiKey>(apiKey: K, version: number, body: RequestOf<K>): Promise<void> {
    let frame: Buffer
    try {
      this.checkedCodec(apiKey, version)
      frame = encodeRequestFrame(apiKey, version, this.allocateCorrelationId(), this.clientId, body)
    } catch (error) {
      return Promise.reject(error as Error)
    }
    if (this.failure) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      this.socket.write(frame, (error) => (error ? reject(new WireClientError('closed', error.message)) : resolve()))
    })
  }

  /** Takes a correlation id for a frame the caller encoded itself (`sendFrame`). */
  allocateCorrelationId(): number {
    const id = this.nextCorrelationId
    this.nextCorrelationId = id >= MAX_CORRELATION_ID ? 1 : id + 1
    return id
  }

  /**
   * Sends a pre-encoded frame (size prefix included) after writing `correlationId` into it.
   * `onResponse` null: the request gets no response (acks=0). The frame must stay untouched
   * until `onResponse` runs (or, without one, until `onWritten` runs): the socket holds it
   * without copying. A failed connection calls `onResponse` (or `onWritten`) with its error.
   */
  sendFrame(frame: Buffer, correlationId: number, headerVersion: 0 | 1, onResponse: ResponseCallback | null, onWritten?: (error?: Error | null) => void): void {
    frame.writeInt32BE(correlationId, CORRELATION_ID_POSITION)
    if (!onResponse) return this.write(frame, onWritten)
    if (this.failure) return onResponse(this.failure, null, 0)
    this.enqueue({ correlationId, headerVersion, abandoned: false, settle: onResponse }, frame, onWritten)
  }

  /** Writes bytes as they are, expecting no response (hand-made or deliberately broken frames). */
  write(bytes: Buffer, onWritten?: (error?: Error | null) => void): void {
    if (this.failure) {
      onWritten?.(this.failure)
      return
    }
    this.socket.write(bytes, onWritten)
  }

  /** Groups the writes made until `uncork()` into one writev. */
  cork(): void {
    this.socket.cork()
  }

  uncork(): void {
    this.socket.uncork()
  }

  /**
   * Asks the broker for its ApiVersions and remembers them. Starts with the newest ApiVersions
   * this client knows; a broker that does not know it answers UNSUPPORTED_VERSION with its
   * list, and the request is repeated in the highest version both know.
   */
  async negotiate(): Promise<ReadonlyMap<number, VersionRange>> {
    const own = codecFor(ApiKey.ApiVersions)
    let version = own.maxVersion
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await this.request(ApiKey.ApiVersions, version, { clientSoftwareName: 'ringlog', clientSoftwareVersion: '0' })
      const ranges = new Map<number, VersionRange>()
      for (const api of response.apiKeys) ranges.set(api.apiKey, { minVersion: api.minVersion, maxVersion: api.maxVersion })
      if (response.errorCode === ErrorCode.NONE) {
        this.brokerRanges = ranges
        return ranges
      }
      const theirs = ranges.get(ApiKey.ApiVersions)
      if (response.errorCode !== ErrorCode.UNSUPPORTED_VERSION || !theirs || attempt > 0) {
        throw new WireClientError('protocol', `ApiVersions failed: ${errorCodeName(response.errorCode)}`)
      }
      const common = Math.min(theirs.maxVersion, own.maxVersion)
      if (common < Math.max(theirs.minVersion, own.minVersion)) {
        throw new WireClientError('unsupported-version', 'the broker shares no ApiVersions version with this client')
      }
      version = common
    }
    throw new WireClientError('protocol', 'ApiVersions negotiation did not settle')
  }

  /**
   * The highest version of `apiKey` both sides support, optionally within [min, max] (for
   * callers that fill only the fields of some versions). Requires `negotiate()` first.
   */
  version(apiKey: KnownApiKey, limits: { min?: number; max?: number } = {}): number {
    if (!this.brokerRanges) throw new WireClientError('protocol', 'version() needs negotiate() first')
    const codec = codecFor(apiKey)
    const theirs = this.brokerRanges.get(apiKey)
    if (!theirs) throw new WireClientError('unsupported-version', `the broker does not support ${codec.name}`)
    const low = Math.max(codec.minVersion, theirs.minVersion, limits.min ?? 0)
    const high = Math.min(codec.maxVersion, theirs.maxVersion, limits.max ?? Number.MAX_SAFE_INTEGER)
    if (high < low) {
      throw new WireClientError('unsupported-version', `no common ${codec.name} version: broker ${theirs.minVersion}-${theirs.maxVersion}, client ${low}-${Math.min(codec.maxVersion, limits.max ?? codec.maxVersion)}`)
    }
    return high
  }

  /** Closes the connection; pending requests reject with a 'closed' error. */
  close(): Promise<void> {
    this.fail(new WireClientError('closed', `connection to ${this.host}:${this.port} closed by the client`))
    return this.socketClosed
  }

  private checkedCodec(apiKey: number, version: number): ApiCodec {
    const codec = codecFor(apiKey)
    if (!Number.isInteger(version) || version < codec.minVersion || version > codec.maxVersion) {
      throw new WireClientError('unsupported-version', `${codec.name} v${version} is outside this client's ${codec.minVersion}-${codec.maxVersion}`)
    }
    return codec
  }

  private enqueue(entry: Pending, frame: Buffer, onWritten?: (error?: Error | null) => void): void {
    this.pending.push(entry)
    this.socket.write(frame, onWritten)
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[]
    try {
      frames = this.decoder.push(chunk)
    } catch (error) {
      this.fail(new WireClientError('protocol', `bad response frame: ${(error as Error).message}`))
      return
    }
    for (const frame of frames) if (!this.onFrame(frame)) return
  }

  /** Matches one response frame to the oldest pending request; false once the connection failed. */
  private onFrame(frame: Buffer): boolean {
    if (this.failure) return false
    if (this.pendingHead >= this.pending.length) {
      this.fail(new WireClientError('protocol', 'response without a pending request'))
      return false
    }
    // The head leaves the queue only once it matched: on a failure it is rejected with the rest.
    const head = this.pending[this.pendingHead]
    const r = new Reader(frame)
    let correlationId: number
    try {
      correlationId = decodeResponseHeader(r, head.headerVersion)
    } catch (error) {
      this.fail(new WireClientError('protocol', `bad response header: ${(error as Error).message}`))
      return false
    }
    if (correlationId !== head.correlationId) {
      this.fail(new WireClientError('protocol', `response correlation id ${correlationId}, expected ${head.correlationId}`))
      return false
    }
    this.pendingHead++
    if (this.pendingHead === this.pending.length) {
      this.pending.length = 0
      this.pendingHead = 0
    } else if (this.pendingHead > COMPACT_AFTER && this.pendingHead * 2 > this.pending.length) {
      this.pending.splice(0, this.pendingHead)
      this.pendingHead = 0
    }
    if (!head.abandoned) head.settle(null, frame, r.offset)
    return true
  }

  private fail(error: Error): void {
    if (this.failure) return
    this.failure = error
    const waiting = this.pending.slice(this.pendingHead)
    this.pending.length = 0
    this.pendingHead = 0
    for (const p of waiting) {
      if (!p.abandoned) p.settle(error, null, 0)
    }
    if (!this.socket.destroyed) this.socket.destroy()
  }
}
