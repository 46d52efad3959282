/**
 * One Kafka connection for the load generator: framing, correlation ids and pipelining.
 * Kafka answers requests on a connection in the order they were sent, so pending requests
 * are a FIFO queue (no map lookups); a response whose correlation id is not the head's is a
 * protocol failure and ends the connection.
 *
 * Two ways to send: `request()` encodes through the generated codecs (bootstrap, Metadata,
 * Fetch), and `sendFrame()` writes a pre-encoded frame after patching only its correlation id
 * (the hot produce path: no encoding per request).
 */
import { connect, type Socket } from 'node:net'
import { FrameDecoder } from '../../protocol/frame.js'
import { decodeResponseHeader, encodeRequestHeader, responseHeaderVersion } from '../../protocol/headers.js'
import type { ApiCodec } from '../../protocol/messages/index.js'
import { Reader, Writer, type EncodeInput } from '../../protocol/primitives.js'

/** Byte position of the correlation id in a frame that starts with its 4-byte size prefix. */
export const CORRELATION_ID_POSITION = 8

export class WireConnectionError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'WireConnectionError'
  }
}

interface Pending {
  correlationId: number
  /** Called with the response body (after the response header) or an error. */
  settle(error: Error | null, frame: Buffer | null, bodyOffset: number): void
  headerVersion: 0 | 1
}

export interface WireConnectionOptions {
  clientId?: string
  /** Connect timeout in ms, default 10000. */
  connectTimeoutMs?: number
}

export class WireConnection {
  private readonly decoder = new FrameDecoder()
  private readonly pending: Pending[] = []
  private pendingHead = 0
  private nextCorrelationId = 1
  private failure: Error | null = null
  private readonly writer = new Writer(4096)
  private drainWaiters: (() => void)[] = []

  private constructor(private readonly socket: Socket, readonly clientId: string) {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (error) => this.fail(error))
    socket.on('close', () => this.fail(new WireConnectionError('connection closed')))
    socket.on('drain', () => {
      const waiters = this.drainWaiters
      this.drainWaiters = []
      for (const wake of waiters) wake()
    })
  }

  static connect(host: string, port: number, options: WireConnectionOptions = {}): Promise<WireConnection> {
    const timeoutMs = options.connectTimeoutMs ?? 10_000
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port })
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new WireConnectionError(`connect to ${host}:${port} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        resolve(new WireConnection(socket, options.clientId ?? 'ringlog-loadgen'))
      })
      socket.once('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
    })
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.pending.length - this.pendingHead
  }

  /** Bytes queued in Node's socket buffer, not yet handed to the kernel. */
  get writableLength(): number {
    return this.socket.writableLength
  }

  get failed(): Error | null {
    return this.failure
  }

  /** Resolves when the socket's write buffer drained (immediately if it is empty). */
  waitForDrain(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure)
    if (this.socket.writableLength === 0) return Promise.resolve()
    return new Promise((resolve) => this.drainWaiters.push(resolve))
  }

  /** Takes a correlation id for a frame the caller encodes itself. */
  allocateCorrelationId(): number {
    const id = this.nextCorrelationId
    this.nextCorrelationId = id >= 0x7fffffff ? 1 : id + 1
    return id
  }

  /** Encodes and sends a request; resolves with the decoded response. */
  request<Req, Res>(api: ApiCodec<Req, Res>, version: number, body: EncodeInput<Req>): Promise<Res> {
    const w = this.writer
    w.reset()
    w.int32(0)
    const correlationId = this.allocateCorrelationId()
    encodeRequestHeader(w, { apiKey: api.apiKey, apiVersion: version, correlationId, clientId: this.clientId })
    api.encodeRequest(w, version, body)
    w.setInt32(0, w.length - 4)
    // The writer's buffer is reused by the next request: the socket gets its own copy.
    const frame = Buffer.from(w.finish())
    return new Promise<Res>((resolve, reject) => {
      this.send(frame, correlationId, responseHeaderVersion(api.apiKey, version), (error, response, bodyOffset) => {
        if (error) return reject(error)
        try {
          resolve(api.decodeResponse(new Reader(response!, bodyOffset), version))
        } catch (decodeError) {
          reject(decodeError as Error)
        }
      })
    })
  }

  /**
   * Sends a pre-encoded frame (size prefix included) after writing `correlationId` into it.
   * The frame must stay untouched until `onResponse` runs (or, for a request that gets no
   * response, until `onWritten` runs): the socket holds it without copying.
   */
  sendFrame(
    frame: Buffer,
    correlationId: number,
    headerVersion: 0 | 1,
    onResponse: ((error: Error | null, response: Buffer | null, bodyOffset: number) => void) | null,
    onWritten?: (error?: Error | null) => void,
  ): void {
    frame.writeInt32BE(correlationId, CORRELATION_ID_POSITION)
    if (onResponse) this.send(frame, correlationId, headerVersion, onResponse, onWritten)
    else this.write(frame, onWritten)
  }

  /** Groups the writes made until `uncork()` into one writev. */
  cork(): void {
    this.socket.cork()
  }

  uncork(): void {
    this.socket.uncork()
  }

  close(): Promise<void> {
    this.fail(new WireConnectionError('connection closed by the client'))
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve()
      this.socket.once('close', () => resolve())
      this.socket.destroy()
    })
  }

  private send(frame: Buffer, correlationId: number, headerVersion: 0 | 1, settle: Pending['settle'], onWritten?: (error?: Error | null) => void): void {
    if (this.failure) {
      settle(this.failure, null, 0)
      return
    }
    this.pending.push({ correlationId, settle, headerVersion })
    this.write(frame, onWritten)
  }

  private write(frame: Buffer, onWritten?: (error?: Error | null) => void): void {
    if (this.failure) {
      onWritten?.(this.failure)
      return
    }
    this.socket.write(frame, onWritten)
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[]
    try {
      frames = this.decoder.push(chunk)
    } catch (error) {
      this.fail(error as Error)
      return
    }
    for (const frame of frames) {
      if (this.pendingHead >= this.pending.length) {
        this.fail(new WireConnectionError('response without a pending request'))
        return
      }
      const head = this.pending[this.pendingHead++]
      // Compact the queue now and then instead of shifting per response.
      if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
        this.pending.splice(0, this.pendingHead)
        this.pendingHead = 0
      }
      const r = new Reader(frame)
      let correlationId: number
      try {
        correlationId = decodeResponseHeader(r, head.headerVersion)
      } catch (error) {
        this.fail(error as Error)
        return
      }
      if (correlationId !== head.correlationId) {
        this.fail(new WireConnectionError(`response correlation id ${correlationId}, expected ${head.correlationId}`))
        return
      }
      head.settle(null, frame, r.offset)
    }
  }

  private fail(error: Error): void {
    if (this.failure) return
    this.failure = error
    const waiting = this.pending.slice(this.pendingHead)
    this.pending.length = 0
    this.pendingHead = 0
    for (const p of waiting) p.settle(error, null, 0)
    const waiters = this.drainWaiters
    this.drainWaiters = []
    for (const wake of waiters) wake()
    if (!this.socket.destroyed) this.socket.destroy()
  }
}
