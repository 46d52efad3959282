/**
 * Connection limits (issue 17 "Limits", issue 18 item 7): max.connections.per.ip and
 * max.connections at accept, the idle rule against a client trickling one byte a second, and
 * frames claiming 2 GiB refused before anything is buffered. Real sockets on 127.0.0.1; the
 * "normal client" connects from 127.0.0.2 (another loopback address) so the per-address limit
 * of 127.0.0.1 does not apply to it.
 */
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { apiVersions, CapturingLogger, closed, openSocket, rssMiB } from './limits-helpers.js'
import { eventually, startTestBroker, type TestBroker } from './test-broker.js'

let broker: TestBroker | undefined
const sockets: Socket[] = []

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await broker?.destroy()
  broker = undefined
})

function track(socket: Socket): Socket {
  socket.on('error', () => {}) // refused sockets see ECONNRESET; the close is what the tests await
  sockets.push(socket)
  return socket
}

describe('max.connections.per.ip', () => {
  it('accepts 100 of 2,000 connections from one address and keeps serving another address', async () => {
    const log = new CapturingLogger()
    broker = await startTestBroker({ maxConnectionsPerIp: 100 }, log)
    const rssBefore = rssMiB()
    const open: Socket[] = []
    let refused = 0
    for (let batch = 0; batch < 20; batch++) {
      const made = await Promise.all(Array.from({ length: 100 }, () => openSocket(broker!.port).then(track, () => undefined)))
      for (const s of made) {
        if (!s) { refused++; continue }
        open.push(s)
        void closed(s).then(() => { refused++ })
      }
    }
    // Every connection over the limit is closed by the broker (bounded wait).
    await eventually(async () => (refused >= 1900 ? true : undefined), 600, 50)
    const alive = open.filter((s) => !s.destroyed)
    expect(alive.length).toBe(100)
    // The 100 admitted connections are served...
    const answers = await Promise.all(alive.map((s, i) => apiVersions(s, i + 1)))
    expect(answers.every((frame) => frame.readInt32BE(4) > 0)).toBe(true)
    // ...and so is a normal client from another address while 127.0.0.1 is at its limit.
    const other = track(await openSocket(broker.port, '127.0.0.2'))
    expect((await apiVersions(other, 42)).readInt32BE(4)).toBe(42)
    expect(refused).toBe(1900)
    expect(broker.server.connectionCount).toBe(101)
    // Refusals are logged once per interval, not once each.
    expect(log.count(/max\.connections\.per\.ip \(100\)/)).toBeGreaterThanOrEqual(1)
    expect(log.count(/max\.connections\.per\.ip \(100\)/)).toBeLessThan(10)
    console.log(`per-ip limit: 2000 attempts, 100 admitted, ${refused} refused; test-process RSS ${rssBefore} -> ${rssMiB()} MiB`)
  })

  it('max.connections caps connections from all addresses together', async () => {
    broker = await startTestBroker({ maxConnections: 5, maxConnectionsPerIp: 5 }, new CapturingLogger())
    const admitted: Socket[] = []
    for (let i = 0; i < 5; i++) {
      const s = track(await openSocket(broker.port, i % 2 === 0 ? '127.0.0.1' : '127.0.0.3'))
      await apiVersions(s, i + 1)
      admitted.push(s)
    }
    const over = track(await openSocket(broker.port, '127.0.0.4'))
    await closed(over)
    // A slot freed by a close is available again.
    admitted[0].destroy()
    await eventually(async () => (broker!.server.connectionCount === 4 ? true : undefined))
    const again = track(await openSocket(broker.port, '127.0.0.4'))
    expect((await apiVersions(again, 9)).readInt32BE(4)).toBe(9)
  })
})

describe('connections.max.idle.ms', () => {
  it('closes a client that sends one byte a second and never completes a frame', async () => {
    const log = new CapturingLogger()
    broker = await startTestBroker({ connectionsMaxIdleMs: 1500 }, log)
    const s = track(await openSocket(broker.port))
    await apiVersions(s)
    const done = closed(s)
    let isClosed = false
    void done.then(() => { isClosed = true })
    // A request frame claiming 100 bytes, sent a byte at a time (bounded: 60 bytes, one a second).
    const frame = Buffer.alloc(104)
    frame.writeInt32BE(100, 0)
    let sent = 0
    for (; sent < 60 && !isClosed; sent++) {
      s.write(frame.subarray(sent, sent + 1))
      await Promise.race([done, new Promise((r) => setTimeout(r, 1000))])
    }
    expect(isClosed).toBe(true)
    expect(sent).toBeLessThan(60)
    expect(await log.waitFor(/idle for 1500 ms/)).toMatch(/partial frame/)
    // The broker's side closes just after ours sees it; its partial bytes are then released.
    await eventually(async () => (broker!.server.partialFrameBytes === 0 ? true : undefined))
    console.log(`one-byte-a-second client closed after ${sent} bytes`)
  })

  it('keeps a connection that sends complete requests', async () => {
    broker = await startTestBroker({ connectionsMaxIdleMs: 1500 }, new CapturingLogger())
    const s = track(await openSocket(broker.port))
    // Bounded: 6 requests 500 ms apart (3 s in all, twice the idle limit), each answered.
    for (let i = 1; i <= 6; i++) {
      expect((await apiVersions(s, i)).readInt32BE(4)).toBe(i)
      await new Promise((r) => setTimeout(r, 500))
    }
    expect(s.destroyed).toBe(false)
  })
})

describe('oversized frame claims', () => {
  it('refuses frames claiming 2 GiB at once, before and after the first request, and keeps serving', async () => {
    const log = new CapturingLogger()
    broker = await startTestBroker({}, log)
    const rssBefore = rssMiB()
    const claims = [0x7fffffff, 0x80000000, 0xffffffff]
    for (const claim of claims) {
      for (const afterFirstRequest of [false, true]) {
        const s = track(await openSocket(broker.port))
        if (afterFirstRequest) await apiVersions(s)
        const prefix = Buffer.alloc(4)
        prefix.writeUInt32BE(claim, 0)
        s.write(Buffer.concat([prefix, Buffer.alloc(1024, 7)]))
        await closed(s)
      }
    }
    await eventually(async () => (broker!.server.connectionCount === 0 ? true : undefined))
    expect(broker.server.partialFrameBytes).toBe(0)
    expect(log.count(/closing it/)).toBe(claims.length * 2)
    const s = track(await openSocket(broker.port))
    expect((await apiVersions(s, 5)).readInt32BE(4)).toBe(5)
    console.log(`2 GiB claims: ${claims.length * 2} connections refused; test-process RSS ${rssBefore} -> ${rssMiB()} MiB`)
  })
})
