/**
 * DirectFrameReader (frames read straight into their own buffer): random frame sizes and read
 * splits give back exactly the frames sent; an oversized prefix is an error; and a
 * KafkaWireClient with `directReads` matches pipelined responses of up to 3 MiB over a real socket.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { DirectFrameReader } from '../../src/kafka-client/direct-frame-reader.js'
import { ApiKey, encodeRequestFrame, KafkaWireClient } from '../../src/kafka-client/kafka-wire-client.js'
import { FrameDecoder } from '../../src/protocol/frame.js'
import { randomForTest } from '../seed.js'

function patterned(size: number, salt: number): Buffer {
  const b = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) b[i] = (i * 31 + salt) & 0xff
  return b
}

function framed(body: Buffer): Buffer {
  const prefix = Buffer.alloc(4)
  prefix.writeInt32BE(body.length)
  return Buffer.concat([prefix, body])
}

describe('DirectFrameReader', () => {
  it('gives back every frame, whatever the frame sizes and the read splits', () => {
    const random = randomForTest()
    const sizes = [0, 1, 3, 4, 5, 65_535, 65_536, 65_537, 200_000, 1_048_576 + 7]
    for (let i = 0; i < 40; i++) sizes.push(random.int(2) === 0 ? random.int(300) : random.int(400_000))
    const bodies = sizes.map((size, i) => patterned(size, i))
    const stream = Buffer.concat(bodies.map(framed))
    const got: Buffer[] = []
    const reader = new DirectFrameReader(8 * 1024 * 1024)
    reader.attach((frame) => got.push(frame), (error) => { throw error })
    let at = 0
    let direct = 0
    while (at < stream.length) {
      const target = reader.nextBuffer()
      // A read returns anything from 1 byte to the whole buffer offered.
      const n = Math.min(stream.length - at, random.int(3) === 0 ? 1 + random.int(8) : 1 + random.int(target.length))
      stream.copy(target, 0, at, at + n)
      if (target.length > 64 * 1024) direct++
      reader.onRead(n, target)
      at += n
    }
    expect(got.length).toBe(bodies.length)
    for (let i = 0; i < bodies.length; i++) expect(got[i].equals(bodies[i]), `frame ${i} of ${sizes[i]} bytes`).toBe(true)
    expect(direct).toBeGreaterThan(0)
  })

  it('reads each frame where its allocator puts it (shared memory for a replica fetcher), the heap when it declines', () => {
    const random = randomForTest()
    const area = new SharedArrayBuffer(4 * 1024 * 1024)
    const sizes = [100, 300_000, 70_000, 5, 1_000_000, 200_000]
    const bodies = sizes.map((size, i) => patterned(size, i + 7))
    const stream = Buffer.concat(bodies.map(framed))
    let next = 0
    // Frames over 64 KiB go to the area, one after another; smaller ones are declined.
    const reader = new DirectFrameReader(8 * 1024 * 1024, (size) => {
      if (size < 65_536) return undefined
      const frame = Buffer.from(area, next, size)
      next += size
      return frame
    })
    const got: Buffer[] = []
    reader.attach((frame) => got.push(frame), (error) => { throw error })
    for (let at = 0; at < stream.length;) {
      const target = reader.nextBuffer()
      const n = Math.min(stream.length - at, 1 + random.int(target.length))
      stream.copy(target, 0, at, at + n)
      reader.onRead(n, target)
      at += n
    }
    expect(got.map((f) => f.buffer === area)).toEqual(sizes.map((size) => size >= 65_536))
    for (let i = 0; i < bodies.length; i++) expect(got[i].equals(bodies[i]), `frame ${i}`).toBe(true)
  })

  it('refuses a size prefix above the limit', () => {
    const errors: Error[] = []
    const reader = new DirectFrameReader(1000)
    reader.attach(() => undefined, (error) => errors.push(error))
    const target = reader.nextBuffer()
    framed(Buffer.alloc(1001)).copy(target, 0, 0, 8)
    reader.onRead(8, target)
    expect(errors.length).toBe(1)
    expect(errors[0].message).toMatch(/1001/)
  })
})

describe('KafkaWireClient with directReads', () => {
  let server: Server | undefined
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
    server = undefined
  })

  it('matches pipelined responses of up to 3 MiB, read straight into their frames', async () => {
    const sizes = [10, 3 * 1024 * 1024, 70_000, 0, 1_000_000, 5, 2 * 1024 * 1024 + 3]
    // A scripted broker: answers request i with a frame of sizes[i] bytes after its correlation id.
    server = createServer((socket: Socket) => {
      const decoder = new FrameDecoder()
      let i = 0
      socket.on('data', (chunk: Buffer) => {
        for (const request of decoder.push(chunk)) {
          const correlationId = request.readInt32BE(4)
          const head = Buffer.alloc(4)
          head.writeInt32BE(correlationId)
          socket.write(framed(Buffer.concat([head, patterned(sizes[i], i)])))
          i++
        }
      })
    })
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()))
    const port = (server.address() as { port: number }).port
    const client = await KafkaWireClient.connect('127.0.0.1', port, { directReads: true })
    try {
      const answers = await Promise.all(sizes.map(() => new Promise<Buffer>((resolve, reject) => {
        const id = client.allocateCorrelationId()
        const frame = encodeRequestFrame(ApiKey.ApiVersions, 0, id, 'direct-reads-test', {})
        client.sendFrame(frame, id, 0, (error, response, bodyOffset) => (error ? reject(error) : resolve(response!.subarray(bodyOffset))))
      })))
      for (let i = 0; i < sizes.length; i++) expect(answers[i].equals(patterned(sizes[i], i)), `response ${i}`).toBe(true)
    } finally {
      await client.close()
    }
  })
})
