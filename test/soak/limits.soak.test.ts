/**
 * Long variants of the connection-limit tests (test/broker/limits*.test.ts), for
 * `npm run test:soak`: issue 18's own probes at full size with the default limits.
 * - 8 partial 99 MiB frames (the default 100 MiB request limit) against the default 256 MiB
 *   queued.max.request.bytes: the broker holds at most the cap, and releases it on close;
 * - 10,000 connections from one address against the default max.connections.per.ip (1,000).
 * RSS of the test process (broker and clients together) is logged, not asserted.
 */
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_CONFIG } from '../../src/config.js'
import { apiVersions, CapturingLogger, closed, MiB, openSocket, rssMiB } from '../broker/limits-helpers.js'
import { eventually, startTestBroker, type TestBroker } from '../broker/test-broker.js'

const CONNECTIONS = Number(process.env.RINGLOG_LIMITS_SOAK_CONNECTIONS ?? '10000')

let broker: TestBroker | undefined
const sockets: Socket[] = []

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await broker?.destroy()
  broker = undefined
})

function track(socket: Socket): Socket {
  socket.on('error', () => {})
  sockets.push(socket)
  return socket
}

describe('limits at full size (soak)', () => {
  it('8 partial 99 MiB frames stay within the default queued.max.request.bytes', async () => {
    const cap = DEFAULT_CONFIG.queuedMaxRequestBytes
    broker = await startTestBroker({ connectionsMaxIdleMs: 30_000 }, new CapturingLogger())
    const rssBefore = rssMiB()
    const frameBytes = 99 * MiB
    const body = Buffer.alloc(frameBytes - 1, 0x42) // shared by the 8 clients; one byte short of whole
    const prefix = Buffer.alloc(4)
    prefix.writeInt32BE(frameBytes, 0)
    const clients: Socket[] = []
    for (let i = 0; i < 8; i++) {
      const s = track(await openSocket(broker.port))
      await apiVersions(s, i + 1)
      clients.push(s)
    }
    for (const s of clients) { s.write(prefix); s.write(body) }
    let peak = 0
    let peakRss = 0
    let reachedAt = -1
    for (let i = 0; i < 3000 && (reachedAt < 0 || i < reachedAt + 100); i++) {
      peak = Math.max(peak, broker.server.partialFrameBytes)
      peakRss = Math.max(peakRss, rssMiB())
      if (reachedAt < 0 && broker.server.partialFrameBytes >= cap - 2 * MiB) reachedAt = i
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(reachedAt).toBeGreaterThanOrEqual(0)
    expect(peak).toBeLessThanOrEqual(cap + 8 * 2 * 64 * 1024)
    for (const s of clients) s.destroy()
    await Promise.all(clients.map(closed))
    await eventually(async () => (broker!.server.partialFrameBytes === 0 && broker!.server.connectionCount === 0 ? true : undefined), 1200, 50)
    global.gc?.()
    console.log(`8 x 99 MiB partial frames: peak ${Math.round(peak / MiB)} MiB held (cap ${cap / MiB} MiB, 792 MiB offered); RSS ${rssBefore} -> peak ${peakRss} -> ${rssMiB()} MiB after close`)
  })

  it(`${CONNECTIONS} connections from one address against the default max.connections.per.ip`, async () => {
    const perIp = DEFAULT_CONFIG.maxConnectionsPerIp
    broker = await startTestBroker({}, new CapturingLogger())
    const rssBefore = rssMiB()
    const open: Socket[] = []
    let refused = 0
    for (let batch = 0; batch < CONNECTIONS / 100; batch++) {
      const made = await Promise.all(Array.from({ length: 100 }, () => openSocket(broker!.port).then(track, () => undefined)))
      for (const s of made) {
        if (!s) { refused++; continue }
        open.push(s)
        void closed(s).then(() => { refused++ })
      }
    }
    await eventually(async () => (refused >= CONNECTIONS - perIp ? true : undefined), 1200, 50)
    const alive = open.filter((s) => !s.destroyed)
    expect(alive.length).toBe(perIp)
    const other = track(await openSocket(broker.port, '127.0.0.2'))
    expect((await apiVersions(other, 42)).readInt32BE(4)).toBe(42)
    console.log(`${CONNECTIONS} connections: ${perIp} admitted, ${refused} refused; RSS ${rssBefore} -> ${rssMiB()} MiB`)
  })
})
