/**
 * One client connection: size-prefixed frames in, request header, dispatch, and responses
 * out strictly in request order (Kafka clients match responses by position and fail on an
 * out-of-order correlation id), even though requests complete out of order: each request
 * takes a slot in a reorder queue when it arrives and the writer sends slots from the head as
 * they complete. Fetch responses mix bytes with segment-file ranges; the writer streams those
 * with sendFileRange and writes nothing else meanwhile.
 *
 * Failure policy (the broker keeps serving everyone else):
 * - a bad frame size, a malformed header or body, an unknown API key or an unsupported
 *   version of any API but ApiVersions: the connection is closed and the reason logged (an
 *   unknown key or version with the client's id and the software name and version it gave in
 *   ApiVersions v3+, so an operator can tell which client needs what). Kafka closes here too:
 *   a response body in a version the broker has no schema for cannot be written so that the
 *   client decodes it, so the close is the only answer the protocol allows;
 * - an unsupported ApiVersions version: a v0 body with UNSUPPORTED_VERSION and the supported
 *   list (KIP-511), connection kept;
 * - before the first request decodes, frames are limited to PRE_REQUEST_MAX_FRAME_BYTES (a
 *   stranger cannot make the broker buffer 100 MiB); after it, config.socketRequestMaxBytes.
 * Authentication (sasl-session.ts): on a SASL listener only ApiVersions and the SASL requests
 * pass before the exchange succeeds, anything else closes the connection; after SaslHandshake
 * v0 frames are raw SASL tokens (no request header) until it ends; a failed step answers and
 * then ends the connection gracefully (the answer is written first). Until authenticated,
 * frames stay limited to PRE_REQUEST_MAX_FRAME_BYTES.
 * Back-pressure: reading pauses while too many requests are unanswered or too many response
 * bytes wait in the socket, and resumes as they drain.
 * Limits (connection-limits.ts, when given): reading also pauses while the connection has
 * config.connectionMaxInflightBytes in flight (request frames held plus responses not yet
 * written, file ranges included) or while the broker-wide partial-frame budget is spent; a
 * connection paused with output blocked for connectionMaxStalledMs is closed, and so is one
 * with no complete request and no response written for connectionsMaxIdleMs.
 */
import type { Socket } from 'node:net'
import { ErrorCode } from '../protocol/error-codes.js'
import { FrameDecoder } from '../protocol/frame.js'
import { decodeRequestHeader, encodeResponseHeader, responseHeaderVersion, type RequestHeader } from '../protocol/headers.js'
import { encodeApiVersionsResponse } from '../protocol/messages/api-versions.js'
import { Reader, Writer } from '../protocol/primitives.js'
import type { ApiRegistry, ApiRoute } from './api-registry.js'
import type { NodeContext } from '../core/node-context.js'
import { apiVersionsBody } from './handlers/18-api-versions.js'
import { isFileRangePart, isGeneratedPart, releasePart, type ConnectionInfo, type GeneratedPart, type HandlerReply, type RequestContext, type ResponsePart } from './handler.js'
import type { BrokerLogger, LogFields } from './logger.js'
import type { FetchMeter, RequestObserver } from './request-observer.js'
import { releaseFileSource, sendFileRange } from './send-file.js'
import type { ConnectionLimits, LimitedConnection } from './connection-limits.js'
import { SaslSession } from './sasl-session.js'
import { requestAccess } from './request-authorization.js'
import type { BrokerSecurity } from './broker-security.js'
import type { FetchSessionCache } from './fetch-sessions.js'

/** Releases the file ranges and generated parts of `parts` from index `from` on (a response that will not be sent, or its unsent rest). */
function releaseParts(parts: readonly ResponsePart[], from: number): void {
  for (let i = from; i < parts.length; i++) releasePart(parts[i])
}

/** Resolves when the socket drains or closes (a generated part waits for room before its next chunk). */
function drainedOrClosed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done)
      socket.off('close', done)
      resolve()
    }
    socket.on('drain', done)
    socket.on('close', done)
  })
}

/** Writes a generated part chunk by chunk, waiting for the socket to drain between chunks; checks its length. */
async function writeGenerated(socket: Socket, part: GeneratedPart): Promise<void> {
  let written = 0
  for await (const chunk of part.chunks()) {
    if (socket.destroyed) return
    written += chunk.length
    if (written > part.length) throw new Error(`a generated response part grew past its declared ${part.length} bytes`)
    if (!socket.write(chunk)) await drainedOrClosed(socket)
  }
  if (written !== part.length && !socket.destroyed) throw new Error(`a generated response part made ${written} of its declared ${part.length} bytes`)
}

/** Largest frame accepted before any request has decoded (Kafka: 512 KiB before SASL). */
export const PRE_REQUEST_MAX_FRAME_BYTES = 512 * 1024
const API_VERSIONS_KEY = 18
/** Unanswered requests per connection before reading pauses. */
const MAX_IN_FLIGHT = 1024
/** Response bytes queued in the socket before reading pauses. */
const MAX_QUEUED_RESPONSE_BYTES = 16 * 1024 * 1024

interface Slot {
  /** Bytes this slot holds in flight: its request frame until answered, then its response. */
  bytes: number
  done: boolean
  parts: ResponsePart[] | null
  closeReason: string | null
  /** With closeReason: end the socket after the writes before it instead of destroying it. */
  graceful?: boolean
}

export interface ConnectionOptions {
  id: number
  broker: NodeContext
  registry: ApiRegistry
  log: BrokerLogger
  /** Told about the connection and each request (metrics, request logs); optional. */
  observer?: RequestObserver
  fetchMeter?: FetchMeter
  /** Broker-wide connection limits; without them only the fixed back-pressure applies. */
  limits?: ConnectionLimits
  /** The listener's protocol and authentication state; default: PLAINTEXT, nothing to authenticate. */
  session?: SaslSession
  /** What Metadata names on this connection; default: config.host (the reached address when it is a wildcard) and the local port. */
  advertised?: { host: string; port: number }
  /** Credentials and ACLs; with an authorizer every request is checked for the session's principal. */
  security?: BrokerSecurity
  /** The broker-wide fetch session cache (KIP-227). */
  fetchSessions?: FetchSessionCache
}

/** Bytes of the response parts (file ranges count by their length: they are owed to the socket too). */
function partsBytes(parts: readonly ResponsePart[]): number {
  let sum = 0
  for (const p of parts) sum += p.length
  return sum
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', ''])

export class Connection implements LimitedConnection {
  readonly info: ConnectionInfo
  private readonly decoder: FrameDecoder
  private readonly session: SaslSession
  private readonly queue: Slot[] = []
  private readonly abort = new AbortController()
  private sawRequest = false
  private writing = false
  private pumpScheduled = false
  private paused = false
  private stopping = false
  private closed = false
  private readonly closedPromise: Promise<void>
  private idleWaiters: (() => void)[] = []
  /** Bytes of the queued slots (requests held, responses not yet handed to the socket). */
  private queuedBytes = 0
  private lastActivityMs = Date.now()
  /** When reading was paused with output blocked (stall rule); -1 when not. */
  private stalledSinceMs = -1
  /** Reading paused by the broker-wide partial-frame budget. */
  private waitingForBudget = false
  private lastWritableLength = 0
  /** What the client said it is in ApiVersions v3+ ("name version"), for log lines. */
  private clientSoftware: string | null = null

  constructor(private readonly socket: Socket, private readonly options: ConnectionOptions) {
    const { config } = options.broker
    const local = (socket.localAddress ?? '127.0.0.1').replace(/^::ffff:/, '')
    this.info = {
      id: options.id,
      remoteAddress: socket.remoteAddress ?? '?',
      remotePort: socket.remotePort ?? 0,
      advertisedHost: options.advertised?.host ?? (WILDCARD_HOSTS.has(config.host) ? local : config.host),
      advertisedPort: options.advertised?.port ?? socket.localPort ?? config.port,
      listener: options.session?.protocol ?? 'PLAINTEXT',
    }
    this.session = options.session ?? new SaslSession('PLAINTEXT', undefined)
    this.decoder = new FrameDecoder(config.socketRequestMaxBytes)
    socket.setNoDelay(true)
    options.observer?.connectionOpened(this.info)
    this.closedPromise = new Promise((resolve) => socket.once('close', () => {
      options.observer?.connectionClosed(this.info)
      options.limits?.release(this.info.remoteAddress, this)
      this.closed = true
      this.releaseQueue()
      this.abort.abort()
      this.notifyIdle()
      resolve()
    }))
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') this.options.log.warn(`${this.describe()}: socket error ${error.message}`)
    })
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('drain', () => this.updateFlow())
    options.limits?.track(this)
  }

  /** Idle and stall rules, called by the limits' sweep timer. */
  sweep(nowMs: number): void {
    const limits = this.options.limits
    if (!limits || this.closed || this.stopping) return
    const { connectionsMaxIdleMs, connectionMaxStalledMs } = limits.settings
    // A client that reads, however slowly, restarts the stall clock.
    const writable = this.socket.writableLength
    if (writable < this.lastWritableLength && this.stalledSinceMs >= 0) this.stalledSinceMs = nowMs
    this.lastWritableLength = writable
    this.updateFlow()
    if (this.stalledSinceMs >= 0 && nowMs - this.stalledSinceMs >= connectionMaxStalledMs) {
      this.fail(`its responses have not been read for ${connectionMaxStalledMs} ms (${this.inflightBytes()} bytes in flight)`)
      return
    }
    const handlerPending = this.queue.some((slot) => !slot.done)
    if (!handlerPending && nowMs - this.lastActivityMs >= connectionsMaxIdleMs) {
      this.fail(`idle for ${connectionsMaxIdleMs} ms (no complete request, no response written; ${this.decoder.bufferedBytes} bytes of a partial frame)`)
    }
  }

  /** Request frames held plus responses not yet written (queued slots and the socket's buffer). */
  private inflightBytes(): number {
    return this.queuedBytes + this.socket.writableLength
  }

  /** Stops reading, lets long polls answer now, waits (up to timeoutMs) for every accepted request's response, then closes. */
  async shutdown(timeoutMs: number): Promise<void> {
    if (this.closed) return
    this.stopping = true
    this.socket.pause()
    this.abort.abort()
    const idle = new Promise<void>((resolve) => this.whenIdle(resolve))
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs) })
    await Promise.race([idle, timeout])
    clearTimeout(timer)
    if (!this.closed) {
      this.socket.end()
      const destroyTimer = setTimeout(() => this.socket.destroy(), Math.min(timeoutMs, 1000))
      await this.closedPromise
      clearTimeout(destroyTimer)
    }
  }

  get closedOnce(): Promise<void> {
    return this.closedPromise
  }

  private describe(): string {
    return `connection ${this.info.id} from ${this.info.remoteAddress}:${this.info.remotePort}`
  }

  private fail(reason: string, fields: LogFields = {}): void {
    if (this.closed) return
    this.options.log.warn(`${this.describe()}: ${reason}; closing it`, { conn: this.info.id, peer: `${this.info.remoteAddress}:${this.info.remotePort}`, ...fields })
    this.closed = true
    this.releaseQueue()
    this.abort.abort()
    this.socket.destroy()
  }

  /** Stops reading and ends the socket after what is already written (an answer the client must see). */
  private endGracefully(reason: string): void {
    this.options.log.warn(`${this.describe()}: ${reason}; closing it`, { conn: this.info.id, peer: `${this.info.remoteAddress}:${this.info.remotePort}` })
    this.stopping = true
    this.releaseQueue()
    this.socket.end()
    // A peer that never closes its side must not keep the socket.
    setTimeout(() => this.socket.destroy(), 5000).unref()
  }

  /** Drops every queued response, closing the file descriptors held for their unsent ranges. */
  private releaseQueue(): void {
    for (const slot of this.queue.splice(0)) if (slot.parts) releaseParts(slot.parts, 0)
  }

  private onData(chunk: Buffer): void {
    if (this.closed || this.stopping) return
    const buffered = this.decoder.bufferedBytes + chunk.length
    let frames: Buffer[]
    try {
      frames = this.decoder.push(chunk)
    } catch (error) {
      this.fail((error as Error).message)
      return
    }
    if (this.limitFrames && frames.length === 0 && buffered > PRE_REQUEST_MAX_FRAME_BYTES + 4) {
      this.fail(`first request is larger than ${PRE_REQUEST_MAX_FRAME_BYTES} bytes`)
      return
    }
    for (const frame of frames) {
      if (this.closed || this.stopping) return
      if (this.limitFrames && frame.length > PRE_REQUEST_MAX_FRAME_BYTES) {
        this.fail(`first request is larger than ${PRE_REQUEST_MAX_FRAME_BYTES} bytes`)
        return
      }
      this.lastActivityMs = Date.now()
      this.onFrame(frame)
    }
    this.takePartialBudget()
    this.updateFlow()
  }

  /** Reports the partial frame now held to the broker-wide budget; pauses reading when it is spent. */
  private takePartialBudget(): void {
    const limits = this.options.limits
    if (!limits || this.closed) return
    const granted = limits.updatePartial(this, this.decoder.bufferedBytes, () => {
      this.waitingForBudget = false
      this.updateFlow()
    })
    if (!granted && !this.waitingForBudget) {
      this.waitingForBudget = true
      this.updateFlow()
    }
  }

  /** Frames stay small until the first request decodes and the connection is authenticated. */
  private get limitFrames(): boolean {
    return !this.sawRequest || !this.session.authenticated
  }

  /** A raw SASL token after SaslHandshake v0: answered with a raw size-prefixed token; a failure can only close. */
  private onLegacyToken(frame: Buffer): void {
    this.sawRequest = true
    const outcome = this.session.authenticate(frame)
    if (!outcome.ok) {
      this.fail(this.session.closeReason ?? 'SASL authentication failed')
      return
    }
    const out = Buffer.allocUnsafe(4 + outcome.challenge.length)
    out.writeInt32BE(outcome.challenge.length, 0)
    outcome.challenge.copy(out, 4)
    this.queuedBytes += out.length
    this.queue.push({ bytes: out.length, done: true, parts: [out], closeReason: null })
    this.schedulePump()
  }

  private onFrame(frame: Buffer): void {
    if (this.session.legacyFraming) {
      this.onLegacyToken(frame)
      return
    }
    const reader = new Reader(frame)
    let header: RequestHeader
    try {
      header = decodeRequestHeader(reader)
    } catch (error) {
      this.fail(`malformed request header (${(error as Error).message})`)
      return
    }
    const { registry } = this.options
    if (!this.session.admits(header.apiKey)) {
      this.fail(this.session.closeReason ?? `${registry.name(header.apiKey)} before SASL authentication`)
      return
    }
    const route = registry.route(header.apiKey, header.apiVersion)
    if (!route) {
      if (header.apiKey === API_VERSIONS_KEY) {
        this.sawRequest = true
        this.unsupportedApiVersions(header)
        return
      }
      this.refuseUnsupported(header)
      return
    }
    let request: unknown
    try {
      request = route.codec.decodeRequest(reader, header.apiVersion)
    } catch (error) {
      this.fail(`malformed ${route.codec.name} v${header.apiVersion} request (${(error as Error).message})`)
      return
    }
    this.sawRequest = true
    if (header.apiKey === API_VERSIONS_KEY && header.apiVersion >= 3) this.noteClientSoftware(request)
    const startedNs = this.options.observer ? process.hrtime.bigint() : 0n
    const slot: Slot = { bytes: frame.length, done: false, parts: null, closeReason: null }
    this.queuedBytes += slot.bytes
    this.queue.push(slot)
    const ctx: RequestContext = {
      broker: this.options.broker,
      header,
      version: header.apiVersion,
      connection: this.info,
      log: this.options.log,
      supportedApis: registry.supported,
      signal: this.abort.signal,
      fetchMeter: this.options.fetchMeter,
      session: this.session,
      access: requestAccess(this.options.security?.authorizer, this.session.principal, this.info.remoteAddress, header.apiKey),
      security: this.options.security,
      fetchSessions: this.options.fetchSessions,
    }
    let result: HandlerReply<unknown> | Promise<HandlerReply<unknown>>
    try {
      result = route.handler.handle(request, ctx)
    } catch (error) {
      this.internalError(route, header, error)
      return
    }
    if (result instanceof Promise) {
      result.then((reply) => this.complete(slot, route, header, reply, request, startedNs), (error: unknown) => this.internalError(route, header, error))
    } else {
      this.complete(slot, route, header, result, request, startedNs)
    }
    // A failed SASL step: its answer goes out, then the connection ends.
    if (this.session.closeReason !== null && !this.closed) {
      this.queue.push({ bytes: 0, done: true, parts: null, closeReason: this.session.closeReason, graceful: true })
      // Nothing after the failed step is read: the connection only writes what it owes, then ends.
      this.stopping = true
      this.schedulePump()
    }
  }

  private noteClientSoftware(request: unknown): void {
    const { clientSoftwareName, clientSoftwareVersion } = request as { clientSoftwareName?: string; clientSoftwareVersion?: string }
    if (clientSoftwareName) this.clientSoftware = `${clientSoftwareName} ${clientSoftwareVersion ?? ''}`.trim()
  }

  /** An unknown API key or an unsupported version: logged with who sent it, then the connection closes. */
  private refuseUnsupported(header: RequestHeader): void {
    const { registry } = this.options
    const served = registry.supported.find((a) => a.apiKey === header.apiKey)
    const what = served
      ? `unsupported version v${header.apiVersion} of ${registry.name(header.apiKey)} (this broker serves v${served.minVersion}-v${served.maxVersion})`
      : `unknown API key ${header.apiKey} (v${header.apiVersion})`
    const clientId = header.clientId ?? ''
    const software = this.clientSoftware ?? 'unnamed (no ApiVersions v3+ yet)'
    this.fail(`${what} from client id "${clientId}", software ${software}`, {
      apiKey: header.apiKey, apiVersion: header.apiVersion, clientId, clientSoftware: this.clientSoftware,
    })
  }

  private internalError(route: ApiRoute, header: RequestHeader, error: unknown): void {
    const detail = error instanceof Error ? error.stack ?? error.message : String(error)
    this.options.log.error(`${this.describe()}: ${route.codec.name} v${header.apiVersion} handler failed: ${detail}`)
    this.fail(`internal error in ${route.codec.name}`)
  }

  private unsupportedApiVersions(header: RequestHeader): void {
    const w = new Writer(512)
    w.int32(0)
    encodeResponseHeader(w, 0, header.correlationId)
    encodeApiVersionsResponse(w, 0, apiVersionsBody(ErrorCode.UNSUPPORTED_VERSION, this.options.registry.supported))
    w.setInt32(0, w.length - 4)
    const response = w.finish()
    this.queuedBytes += response.length
    this.queue.push({ bytes: response.length, done: true, parts: [response], closeReason: null })
    this.schedulePump()
  }

  private complete(slot: Slot, route: ApiRoute, header: RequestHeader, reply: HandlerReply<unknown>, request: unknown, startedNs: bigint): void {
    if (this.closed) {
      if (reply.kind === 'parts') releaseParts(reply.parts, 0)
      return
    }
    this.options.observer?.requestDone({ connection: this.info, header, api: route.codec.name, request, reply, startedNs })
    const headerVersion = responseHeaderVersion(header.apiKey, header.apiVersion)
    try {
      if (reply.kind === 'message') {
        const w = new Writer(256)
        w.int32(0)
        encodeResponseHeader(w, headerVersion, header.correlationId)
        route.codec.encodeResponse(w, header.apiVersion, reply.message)
        w.setInt32(0, w.length - 4)
        slot.parts = [w.finish()]
      } else if (reply.kind === 'parts') {
        const bodyBytes = reply.parts.reduce((sum, p) => sum + (isFileRangePart(p) ? p.length : p.length), 0)
        const w = new Writer(16)
        w.int32(0)
        encodeResponseHeader(w, headerVersion, header.correlationId)
        w.setInt32(0, w.length - 4 + bodyBytes)
        slot.parts = [w.finish(), ...reply.parts]
      } else if (reply.kind === 'close') {
        slot.closeReason = reply.reason
      }
    } catch (error) {
      this.internalError(route, header, error)
      return
    }
    const bytes = slot.parts ? partsBytes(slot.parts) : 0
    this.queuedBytes += bytes - slot.bytes
    slot.bytes = bytes
    slot.done = true
    this.schedulePump()
    // A response behind a blocked one grows what is in flight: pause reading if it is too much.
    if (this.options.limits) this.updateFlow()
  }

  /**
   * Writes the completed head of the queue soon, once per tick: completions that arrive
   * together (a worker's reply batch resolves many appends in one microtask run) leave in
   * one corked write, one syscall and one TCP segment instead of one each.
   */
  private schedulePump(): void {
    if (this.pumpScheduled || this.writing) return
    this.pumpScheduled = true
    process.nextTick(this.runPump)
  }

  private readonly runPump = (): void => {
    this.pumpScheduled = false
    this.pump()
  }

  /**
   * The only writer: sends completed slots from the head of the queue, in order. Byte parts
   * go out synchronously (corked together); a file range hands over to sendFileRange and the
   * pump resumes when it settles.
   */
  private pump(): void {
    if (this.writing) return
    const socket = this.socket
    let corked = false
    try {
      while (!this.closed && this.queue.length > 0 && this.queue[0].done) {
        const slot = this.queue.shift()!
        if (slot.closeReason !== null) {
          this.queuedBytes -= slot.bytes
          if (corked) { socket.uncork(); corked = false }
          if (slot.graceful) this.endGracefully(slot.closeReason)
          else this.fail(slot.closeReason)
          return
        }
        const parts = slot.parts
        this.lastActivityMs = Date.now()
        if (!parts) { this.queuedBytes -= slot.bytes; continue }
        for (let i = 0; i < parts.length; i++) {
          const part = parts[i]
          if (Buffer.isBuffer(part)) {
            if (!corked) { socket.cork(); corked = true }
            socket.write(part)
            continue
          }
          // sendfile needs everything before it handed to the kernel first (and a generated part waits for drains).
          if (corked) { socket.uncork(); corked = false }
          this.writing = true
          void this.finishFileSlot(parts, i, slot.bytes)
          return
        }
        // Its bytes are in the socket's buffer now (counted by writableLength).
        this.queuedBytes -= slot.bytes
      }
    } finally {
      if (corked) socket.uncork()
    }
    this.afterWrites()
  }

  /** Streams `parts[from]` (a file range or generated bytes) and the rest of its slot, then resumes the pump. */
  private async finishFileSlot(parts: readonly ResponsePart[], from: number, slotBytes: number): Promise<void> {
    const socket = this.socket
    let i = from
    try {
      for (; i < parts.length && !this.closed; i++) {
        const part = parts[i]
        if (Buffer.isBuffer(part)) socket.write(part)
        else if (isGeneratedPart(part)) {
          try {
            await writeGenerated(socket, part)
          } finally {
            part.release()
          }
          this.lastActivityMs = Date.now()
        } else {
          try {
            await sendFileRange(socket, part.file, part.position, part.length)
          } finally {
            releaseFileSource(part.file)
          }
          this.lastActivityMs = Date.now()
        }
      }
    } catch (error) {
      this.writing = false
      this.queuedBytes -= slotBytes
      releaseParts(parts, i)
      this.fail(`writing a response failed (${(error as Error).message})`)
      return
    }
    releaseParts(parts, i)
    this.queuedBytes -= slotBytes
    this.writing = false
    this.pump()
  }

  private afterWrites(): void {
    this.updateFlow()
    if (this.queue.length === 0) this.notifyIdle()
  }

  private updateFlow(): void {
    if (this.closed || this.stopping) return
    const limits = this.options.limits
    const overInflight = limits !== undefined && this.inflightBytes() >= limits.settings.connectionMaxInflightBytes
    const outputBusy = this.queue.length >= MAX_IN_FLIGHT || this.socket.writableLength >= MAX_QUEUED_RESPONSE_BYTES || overInflight
    // Stall clock: paused for output while the output is not moving (a client not reading).
    const outputBlocked = outputBusy && (this.writing || this.socket.writableLength > 0)
    if (!outputBlocked) this.stalledSinceMs = -1
    else if (this.stalledSinceMs < 0) this.stalledSinceMs = Date.now()
    const busy = outputBusy || this.waitingForBudget
    if (busy && !this.paused) {
      this.paused = true
      this.socket.pause()
    } else if (!busy && this.paused) {
      this.paused = false
      this.socket.resume()
    }
  }

  private whenIdle(resolve: () => void): void {
    if (this.closed || (this.queue.length === 0 && !this.writing)) resolve()
    else this.idleWaiters.push(resolve)
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const w of waiters) w()
  }
}
