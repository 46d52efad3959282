import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, openSync, closeSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { nativeSendFileAvailable, sendFileRange, type SendFileSource } from '../../src/broker/send-file.js'

const MiB = 1024 * 1024
const HEAD = Buffer.from('HEAD:response-head-bytes|')
const TAIL = Buffer.from('|TAIL:after-the-range')

let dir: string
let smallPath: string
let small: Buffer
let bigPath: string
let big: Buffer
/**
 * A sparse 128 MiB file (zeros, no disk writes) for transfers that must still be running when
 * the test closes a socket: more than loopback can buffer even where tcp_rmem's max is 32 MiB.
 */
let hugePath: string
const HUGE_BYTES = 128 * MiB

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ringlog-send-file-'))
  small = randomBytes(3 * MiB + 123)
  smallPath = join(dir, 'small.log')
  writeFileSync(smallPath, small)
  // Far more than a paused loopback connection can buffer, so sendfile hits EAGAIN.
  big = randomBytes(24 * MiB)
  bigPath = join(dir, 'big.log')
  writeFileSync(bigPath, big)
  hugePath = join(dir, 'huge.log')
  writeFileSync(hugePath, '')
  truncateSync(hugePath, HUGE_BYTES)
})

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

interface Connection {
  server: Socket
  client: Socket
  /** Resolves with everything the client received once the server side ends. */
  received: Promise<Buffer>
}

const servers: Server[] = []
const sockets: Socket[] = []

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy()
  for (const server of servers.splice(0)) server.close()
})

/** A connected pair on 127.0.0.1; the client starts paused when asked (a slow reader). */
async function connectPair(options: { paused?: boolean } = {}): Promise<Connection> {
  const server = createServer()
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve))
  const client = connect(address.port, '127.0.0.1')
  sockets.push(client)
  if (options.paused) client.pause()
  const chunks: Buffer[] = []
  const received = new Promise<Buffer>((resolve, reject) => {
    client.on('data', (chunk: Buffer) => chunks.push(chunk))
    client.on('end', () => resolve(Buffer.concat(chunks)))
    client.on('error', reject)
  })
  received.catch(() => undefined)
  const serverSide = await accepted
  sockets.push(serverSide)
  return { server: serverSide, client, received }
}

/** Resumes a paused client, reading in short bursts with pauses between them. */
function readSlowly(client: Socket, maxCycles = 2000): void {
  let cycles = 0
  const burst = (): void => {
    if (client.destroyed || cycles++ >= maxCycles) {
      client.resume()
      return
    }
    client.resume()
    setTimeout(() => {
      client.pause()
      setTimeout(burst, 2)
    }, 2)
  }
  burst()
}

function writeAsync(socket: Socket, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => socket.write(bytes, (err) => (err ? reject(err) : resolve())))
}

function endAsync(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.end(resolve))
}

/** Tracks whether a promise has settled without awaiting it. */
function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false
  const observed = promise.finally(() => { done = true })
  observed.catch(() => undefined)
  return { promise: observed, settled: () => done }
}

function fdSource(path: string): { source: SendFileSource; close: () => void } {
  const fd = openSync(path, 'r')
  return { source: { fd }, close: () => closeSync(fd) }
}

it('has the native addon built (set RINGLOG_NO_NATIVE=1 to run without it)', () => {
  expect(nativeSendFileAvailable()).toBe(process.env.RINGLOG_NO_NATIVE !== '1')
})

it('loads the native addon inside a worker thread', async () => {
  if (!nativeSendFileAvailable()) return
  const addon = fileURLToPath(new URL('../../native-bindings/build/Release/ringlog_native.node', import.meta.url))
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads')
     const b = require(workerData)
     const fd = b.dup(1); b.close(fd)
     parentPort.postMessage(Object.keys(b).sort().join(','))`,
    { eval: true, workerData: addon },
  )
  const message = await new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  await worker.terminate()
  // crc32c only where the CPU has the instruction, lz4CompressFrame only when built against
  // liblz4's headers (see native-bindings/src/crc32c.c and lz4.c).
  const withCrc = process.arch === 'x64' ? ',crc32c' : ''
  const withLz4 = existsSync('/usr/include/lz4frame.h') ? ',lz4CompressFrame' : ''
  expect(message).toBe(`close,copyBytes${withCrc},dup${withLz4},sendFile,shutdown`)
})

it('rejects invalid arguments and closed sockets', async () => {
  const { server } = await connectPair()
  await expect(sendFileRange(server, { path: smallPath }, -1, 1)).rejects.toThrow(RangeError)
  await expect(sendFileRange(server, { path: smallPath }, 0, 1.5)).rejects.toThrow(RangeError)
  server.destroy()
  await expect(sendFileRange(server, { path: smallPath }, 0, 1)).rejects.toMatchObject({ code: 'ERR_SOCKET_CLOSED' })
  // Closed because the peer ended the connection (Node read its FIN first): the peer went away.
  const ended = await connectPair()
  const closed = new Promise<void>((resolve) => ended.server.once('close', () => resolve()))
  ended.client.end()
  ended.server.resume()
  await closed
  await expect(sendFileRange(ended.server, { path: smallPath }, 0, 1)).rejects.toMatchObject({ code: 'EPIPE' })
})

it.skipIf(!nativeSendFileAvailable())('leaves half the threadpool free: transfers beyond the limit take the stream path', async () => {
  const limit = Math.max(1, Math.floor((Number(process.env.UV_THREADPOOL_SIZE) || 4) / 2))
  const pairs = await Promise.all(Array.from({ length: limit + 1 }, () => connectPair({ paused: true })))
  const length = 20 * MiB
  const transfers = pairs.map(({ server }) => sendFileRange(server, { path: bigPath }, 7, length))
  for (const { client } of pairs) readSlowly(client)
  await Promise.all(transfers)
  // Native sends bypass Node's stream accounting; the one over the limit went through it.
  expect(pairs.map(({ server }) => server.bytesWritten)).toEqual([...Array(limit).fill(0), length])
  await Promise.all(pairs.map(({ server }) => endAsync(server)))
  for (const { received } of pairs) expect((await received).equals(big.subarray(7, 7 + length))).toBe(true)
})

const modes = [
  { name: 'native sendfile', native: true },
  { name: 'read-stream fallback', native: false },
] as const

describe.each(modes)('$name', ({ native }) => {
  const options = { native }
  const skip = native && !nativeSendFileAvailable()
  // sendfile reports the socket's errno; the stream path sees it from Node's socket.
  const peerGoneCodes = native ? ['EPIPE', 'ECONNRESET'] : ['EPIPE', 'ECONNRESET', 'ERR_SOCKET_CLOSED', 'ERR_STREAM_DESTROYED']

  it.skipIf(skip)('sends exact byte ranges between bytes written before and after', async () => {
    const { server, received } = await connectPair()
    const size = small.length
    const ranges: Array<[number, number]> = [
      [0, 0], [0, 1], [size - 1, 1], [size, 0], [size - 4096, 4096], [0, size], [1, 65_535], [65_536, 65_537],
    ]
    let seed = 12_345
    const next = (bound: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
      return seed % bound
    }
    for (let i = 0; i < 24; i++) {
      const position = next(size + 1)
      ranges.push([position, next(size - position + 1)])
    }
    const expected: Buffer[] = [HEAD]
    const { source, close } = fdSource(smallPath)
    try {
      server.write(HEAD)
      for (const [position, length] of ranges) {
        await sendFileRange(server, source, position, length, options)
        // A few bytes between ranges prove each promise resolves only after its range is out.
        server.write(Buffer.from([0xab]))
        expected.push(small.subarray(position, position + length), Buffer.from([0xab]))
      }
      server.write(TAIL)
      expected.push(TAIL)
      await endAsync(server)
    } finally {
      close()
    }
    expect((await received).equals(Buffer.concat(expected))).toBe(true)
  })

  it.skipIf(skip)('uses the expected path (sendfile bytes bypass Node, so bytesWritten excludes them)', async () => {
    const { server, received } = await connectPair()
    await writeAsync(server, HEAD)
    await sendFileRange(server, { path: smallPath }, 10, MiB, options)
    const bytesWritten = server.bytesWritten
    await endAsync(server)
    expect((await received).equals(Buffer.concat([HEAD, small.subarray(10, 10 + MiB)]))).toBe(true)
    expect(bytesWritten).toBe(native ? HEAD.length : HEAD.length + MiB)
  })

  it.skipIf(skip)('sends a range larger than the socket buffers to a slow reader that pauses', async () => {
    const { server, client, received } = await connectPair({ paused: true })
    const position = 4097
    const length = big.length - position - 1
    server.write(HEAD)
    const transfer = track(sendFileRange(server, { path: bigPath }, position, length, options))
    // The client reads nothing yet, so the transfer must still be waiting for the socket.
    await sleep(100)
    expect(transfer.settled()).toBe(false)
    readSlowly(client)
    await transfer.promise
    server.end(TAIL)
    const bytes = await received
    expect(bytes.length).toBe(HEAD.length + length + TAIL.length)
    expect(bytes.equals(Buffer.concat([HEAD, big.subarray(position, position + length), TAIL]))).toBe(true)
  })

  it.skipIf(skip)('keeps order when bytes are already queued on the socket', async () => {
    const { server, client, received } = await connectPair({ paused: true })
    const queued = randomBytes(12 * MiB)
    server.write(queued)
    expect(server.writableLength).toBeGreaterThan(0)
    const transfer = sendFileRange(server, { path: smallPath }, 5, 2 * MiB, options)
    client.resume()
    await transfer
    server.end(TAIL)
    const bytes = await received
    expect(bytes.equals(Buffer.concat([queued, small.subarray(5, 5 + 2 * MiB), TAIL]))).toBe(true)
  })

  it.skipIf(skip)('rejects without hanging when the peer closes mid-transfer', async () => {
    const { server, client } = await connectPair({ paused: true })
    server.on('error', () => undefined)
    const transfer = track(sendFileRange(server, { path: hugePath }, 0, HUGE_BYTES, options))
    await sleep(50)
    expect(transfer.settled()).toBe(false)
    client.resetAndDestroy()
    const err = await transfer.promise.then(() => null, (e: NodeJS.ErrnoException) => e)
    expect(err).toBeInstanceOf(Error)
    expect(peerGoneCodes).toContain(err?.code)
  })

  it.skipIf(skip)('rejects when the peer closes gracefully mid-transfer', async () => {
    const { server, client } = await connectPair({ paused: true })
    server.on('error', () => undefined)
    const transfer = track(sendFileRange(server, { path: hugePath }, 0, HUGE_BYTES, options))
    await sleep(50)
    expect(transfer.settled()).toBe(false)
    client.destroy()
    const err = await transfer.promise.then(() => null, (e: NodeJS.ErrnoException) => e)
    expect(err).toBeInstanceOf(Error)
    expect(peerGoneCodes).toContain(err?.code)
  })

  it.skipIf(skip)('stops promptly when the socket is destroyed locally mid-transfer', async () => {
    const { server, client } = await connectPair({ paused: true })
    const closedAtPeer = new Promise<void>((resolve) => client.once('close', () => resolve()))
    client.on('error', () => undefined)
    const transfer = track(sendFileRange(server, { path: hugePath }, 0, HUGE_BYTES, options))
    await sleep(50)
    expect(transfer.settled()).toBe(false)
    server.destroy()
    await expect(transfer.promise).rejects.toMatchObject({ code: 'ERR_SOCKET_CLOSED' })
    // The peer sees the connection end even though the transfer held a dup of the fd.
    client.resume()
    await closedAtPeer
  }, 10_000)

  it.skipIf(skip)('delivers the bytes of a file unlinked while it is being sent', async () => {
    const path = join(dir, `unlinked-${native}.log`)
    writeFileSync(path, big)
    const { source, close } = fdSource(path)
    try {
      const { server, client, received } = await connectPair({ paused: true })
      const transfer = sendFileRange(server, source, 1000, 20 * MiB, options)
      unlinkSync(path)
      readSlowly(client)
      await transfer
      await endAsync(server)
      expect((await received).equals(big.subarray(1000, 1000 + 20 * MiB))).toBe(true)
    } finally {
      close()
    }
  })

  it.skipIf(skip)('rejects a range beyond the end of the file', async () => {
    const { server, received } = await connectPair()
    server.on('error', () => undefined)
    await expect(sendFileRange(server, { path: smallPath }, small.length - 10, 20, options)).rejects.toMatchObject({
      code: 'ERR_FILE_TOO_SHORT',
    })
    server.destroy()
    await received.catch(() => undefined)
  })
})
