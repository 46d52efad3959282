/** Raw-socket helpers for the connection-limit tests (limits*.test.ts and the soak variant). */
import { connect, type Socket } from 'node:net'
import type { BrokerLogger } from '../../src/broker/logger.js'
import { decodeResponseBody } from '../../src/kafka-client/kafka-wire-client.js'
import { RawClient } from './raw-client.js'

export const MiB = 1024 * 1024

/** A logger that keeps warnings and errors, so a test can await the line a limit writes. */
export class CapturingLogger implements BrokerLogger {
  readonly lines: string[] = []
  private waiters: { pattern: RegExp; resolve: (line: string) => void }[] = []
  error(message: string): void { this.add(message) }
  warn(message: string): void { this.add(message) }
  info(): void {}
  /** Resolves with the first line (logged before or after the call) that matches. */
  waitFor(pattern: RegExp): Promise<string> {
    const seen = this.lines.find((l) => pattern.test(l))
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve) => this.waiters.push({ pattern, resolve }))
  }
  count(pattern: RegExp): number {
    return this.lines.filter((l) => pattern.test(l)).length
  }
  private add(line: string): void {
    this.lines.push(line)
    this.waiters = this.waiters.filter((w) => {
      if (!w.pattern.test(line)) return true
      w.resolve(line)
      return false
    })
  }
}

/** A raw socket to the broker, optionally from another loopback address; resolves once connected. */
export function openSocket(port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress })
    socket.once('connect', () => { socket.off('error', reject); resolve(socket) })
    socket.once('error', reject)
  })
}

/** Resolves when the socket closes (the broker closed it, or we did). */
export function closed(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve()
  return new Promise((resolve) => socket.once('close', () => resolve()))
}

/** Sends ApiVersions v0 and resolves with the whole response frame (size prefix included). */
export function apiVersions(socket: Socket, correlationId = 1): Promise<Buffer> {
  return exchange(socket, RawClient.frame(18, 0, correlationId, {}))
}

/** CreateTopics v4 on a raw socket; resolves with the topic's error code. */
export async function createTopicOver(socket: Socket, name: string, numPartitions: number, correlationId = 77): Promise<number> {
  const frame = await exchange(socket, RawClient.frame(19, 4, correlationId, { topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000 }))
  // Size prefix, then a v0 response header (the correlation id), then the body.
  const body = decodeResponseBody(19, 4, frame, 8) as { topics: { errorCode: number }[] }
  return body.topics[0].errorCode
}

/** Writes one request frame and resolves with the next whole response frame (size prefix included). */
export function exchange(socket: Socket, request: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk])
      if (got.length >= 4 && got.length >= 4 + got.readInt32BE(0)) {
        socket.off('data', onData)
        socket.off('close', onClose)
        resolve(got)
      }
    }
    const onClose = (): void => reject(new Error('closed before the ApiVersions response'))
    socket.on('data', onData)
    socket.once('close', onClose)
    socket.write(request)
  })
}

export function rssMiB(): number {
  return Math.round(process.memoryUsage().rss / MiB)
}
