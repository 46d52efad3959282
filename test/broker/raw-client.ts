/**
 * A minimal Kafka client for tests, built from the generated codecs: sends requests in any
 * version (or raw bytes), matches responses by correlation id, and reports a closed socket.
 */
import { connect, type Socket } from 'node:net'
import { FrameDecoder } from '../../src/protocol/frame.js'
import { decodeResponseHeader, encodeRequestHeader, responseHeaderVersion } from '../../src/protocol/headers.js'
import { API_CODECS } from '../../src/protocol/messages/index.js'
import { Reader, Writer } from '../../src/protocol/primitives.js'

interface Pending {
  apiKey: number
  version: number
  resolve: (body: Buffer) => void
  reject: (error: Error) => void
}

export class RawClient {
  private readonly decoder = new FrameDecoder(1024 * 1024 * 1024)
  private readonly pending: Pending[] = []
  private nextCorrelationId = 1
  /** Correlation ids of responses, in arrival order. */
  readonly receivedCorrelationIds: number[] = []
  closed = false
  readonly closedPromise: Promise<void>

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.decoder.push(chunk)) this.onFrame(frame)
    })
    socket.on('error', () => undefined)
    this.closedPromise = new Promise((resolve) => socket.once('close', () => {
      this.closed = true
      for (const p of this.pending.splice(0)) p.reject(new Error('connection closed'))
      resolve()
    }))
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host }, () => {
        socket.off('error', reject)
        resolve(new RawClient(socket))
      })
      socket.once('error', reject)
    })
  }

  private onFrame(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0)
    this.receivedCorrelationIds.push(correlationId)
    const p = this.pending.shift()
    if (!p) throw new Error(`unexpected response ${correlationId}`)
    p.resolve(frame)
  }

  /** Encodes the request with the codec of `apiKey` and returns the decoded response body. */
  async request<T = Record<string, unknown>>(apiKey: number, version: number, body: Record<string, unknown>, options: { expectResponse?: boolean } = {}): Promise<T> {
    const codec = API_CODECS.get(apiKey)
    if (!codec) throw new Error(`no codec for ${apiKey}`)
    const w = new Writer()
    w.int32(0)
    const correlationId = this.nextCorrelationId++
    encodeRequestHeader(w, { apiKey, apiVersion: version, correlationId, clientId: 'raw-client' })
    codec.encodeRequest(w, version, body as never)
    w.setInt32(0, w.length - 4)
    if (options.expectResponse === false) {
      this.socket.write(Buffer.from(w.finish()))
      return undefined as T
    }
    const frame = await this.send(Buffer.from(w.finish()), apiKey, version)
    const r = new Reader(frame)
    const id = decodeResponseHeader(r, responseHeaderVersion(apiKey, version))
    if (id !== correlationId) throw new Error(`correlation id ${id}, expected ${correlationId}`)
    return codec.decodeResponse(r, version) as T
  }

  /** Sends raw bytes and expects one response frame (returned whole, header included). */
  send(bytes: Buffer, apiKey = -1, version = -1): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new Error('connection closed'))
        return
      }
      this.pending.push({ apiKey, version, resolve, reject })
      this.socket.write(bytes)
    })
  }

  /** Writes bytes without expecting a response. */
  write(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  /** Builds a request frame (size prefix, header, body) without sending it. */
  static frame(apiKey: number, version: number, correlationId: number, body: Record<string, unknown>): Buffer {
    const codec = API_CODECS.get(apiKey)
    if (!codec) throw new Error(`no codec for ${apiKey}`)
    const w = new Writer()
    w.int32(0)
    encodeRequestHeader(w, { apiKey, apiVersion: version, correlationId, clientId: 'raw-client' })
    codec.encodeRequest(w, version, body as never)
    w.setInt32(0, w.length - 4)
    return Buffer.from(w.finish())
  }

  close(): void {
    this.socket.destroy()
  }

  /** Resolves true if the broker closes the connection within `ms`. */
  async closesWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const result = await Promise.race([
      this.closedPromise.then(() => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms) }),
    ])
    clearTimeout(timer)
    return result
  }
}
