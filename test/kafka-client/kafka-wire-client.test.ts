/**
 * KafkaWireClient against a real in-process broker (negotiation, pipelining, typed requests)
 * and against scripted fake servers for the paths a healthy broker never takes: ApiVersions
 * fallback to a v0 body, timeouts with late answers, wrong correlation ids, closed sockets.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { connectNegotiated } from '../../src/kafka-client/negotiated-client.js'
import { ApiKey, KafkaWireClient, parseHostPort, WireClientError } from '../../src/kafka-client/kafka-wire-client.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { FrameDecoder } from '../../src/protocol/frame.js'
import { decodeRequestHeader, encodeResponseHeader } from '../../src/protocol/headers.js'
import { API_CODECS } from '../../src/protocol/messages/index.js'
import { Reader, Writer } from '../../src/protocol/primitives.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'

describe('parseHostPort', () => {
  it('splits host and port, brackets IPv6, takes the first of a list, defaults to 9092', () => {
    expect(parseHostPort('127.0.0.1:9093')).toEqual({ host: '127.0.0.1', port: 9093 })
    expect(parseHostPort('[::1]:9000')).toEqual({ host: '::1', port: 9000 })
    expect(parseHostPort('a:1,b:2')).toEqual({ host: 'a', port: 1 })
    expect(parseHostPort('localhost')).toEqual({ host: 'localhost', port: 9092 })
    expect(() => parseHostPort('h:0')).toThrow(WireClientError)
    expect(() => parseHostPort('h:x')).toThrow(/host:port/)
  })
})

describe('against the broker', () => {
  let broker: TestBroker
  beforeAll(async () => {
    broker = await startTestBroker()
  })
  afterAll(async () => {
    await broker.destroy()
  })

  it('negotiates versions, pipelines requests and matches every answer', async () => {
    const client = await connectNegotiated(`127.0.0.1:${broker.port}`, { clientId: 'wire-client-test' })
    try {
      expect(client.brokerVersions?.get(ApiKey.Metadata)).toEqual({ minVersion: 0, maxVersion: 12 })
      expect(client.version(ApiKey.Metadata)).toBe(12)
      expect(client.version(ApiKey.Metadata, { max: 4 })).toBe(4)
      expect(() => client.version(ApiKey.OffsetFetch, { min: 10 })).toThrow(/no common OffsetFetch version/)
      const created = await client.request(ApiKey.CreateTopics, client.version(ApiKey.CreateTopics), {
        topics: [{ name: 'wc', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false,
      })
      expect(created.topics[0].errorCode).toBe(ErrorCode.NONE)
      // 30 requests in flight at once, of two APIs and several versions.
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => i % 2 === 0
        ? client.request(ApiKey.Metadata, 4 + (i % 9), { topics: [{ name: 'wc' }], allowAutoTopicCreation: false }).then((r) => r.topics[0].partitions.length)
        : client.request(ApiKey.ListOffsets, 1 + (i % 7), { replicaId: -1, isolationLevel: 0, topics: [{ name: 'wc', partitions: [{ partitionIndex: 1, currentLeaderEpoch: -1, timestamp: -1 }] }] })
          .then((r) => r.topics[0].partitions[0].offset)))
      expect(answers).toEqual(Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? 2 : 0)))
      expect(client.inFlight).toBe(0)
    } finally {
      await client.close()
    }
    expect(client.closed).toBe(true)
    await expect(client.request(ApiKey.Metadata, 1, { topics: null })).rejects.toMatchObject({ kind: 'closed' })
  })

  it('rejects a version outside its codec before sending anything', async () => {
    const client = await KafkaWireClient.connect('127.0.0.1', broker.port)
    try {
      await expect(client.request(ApiKey.Fetch, 99, {})).rejects.toMatchObject({ kind: 'unsupported-version' })
      expect(() => client.version(ApiKey.Fetch)).toThrow(/negotiate/)
      expect(client.inFlight).toBe(0)
    } finally {
      await client.close()
    }
  })
})

/** A server that hands each decoded request to `answer`, which may write raw response frames. */
type Answer = (socket: Socket, header: ReturnType<typeof decodeRequestHeader>, body: Reader) => void

const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve))
})

async function fakeServer(answer: Answer): Promise<number> {
  const server = createServer((socket) => {
    const decoder = new FrameDecoder()
    socket.on('error', () => undefined)
    socket.on('data', (chunk) => {
      for (const frame of decoder.push(chunk)) {
        const r = new Reader(frame)
        answer(socket, decodeRequestHeader(r), r)
      }
    })
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

function respond(socket: Socket, apiKey: number, version: number, headerVersion: 0 | 1, correlationId: number, body: Record<string, unknown>): void {
  const w = new Writer()
  w.int32(0)
  encodeResponseHeader(w, headerVersion, correlationId)
  API_CODECS.get(apiKey)!.encodeResponse(w, version, body as never)
  w.setInt32(0, w.length - 4)
  socket.write(Buffer.from(w.finish()))
}

const metadataBody = { brokers: [], clusterId: null, controllerId: 0, topics: [] }

describe('against scripted servers', () => {
  it('retries ApiVersions in the highest shared version after an UNSUPPORTED_VERSION v0 answer', async () => {
    const asked: number[] = []
    const port = await fakeServer((socket, header) => {
      asked.push(header.apiVersion)
      const apiKeys = [{ apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 2 }, { apiKey: ApiKey.Metadata, minVersion: 0, maxVersion: 5 }]
      // A broker that knows ApiVersions only up to v2 answers v3 with a v0 body.
      if (header.apiVersion > 2) respond(socket, ApiKey.ApiVersions, 0, 0, header.correlationId, { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys })
      else respond(socket, ApiKey.ApiVersions, header.apiVersion, 0, header.correlationId, { errorCode: 0, apiKeys, throttleTimeMs: 0 })
    })
    const client = await connectNegotiated(`127.0.0.1:${port}`)
    try {
      expect(asked).toEqual([3, 2])
      expect(client.version(ApiKey.Metadata)).toBe(5)
      expect(() => client.version(ApiKey.Fetch)).toThrow(/does not support Fetch/)
    } finally {
      await client.close()
    }
  })

  it('times out a request, drops its late answer and keeps the connection in step', async () => {
    let held: (() => void) | undefined
    const port = await fakeServer((socket, header) => {
      const send = () => respond(socket, ApiKey.Metadata, header.apiVersion, 0, header.correlationId, { ...metadataBody, controllerId: header.correlationId })
      if (header.correlationId === 1) held = send
      else {
        held?.()
        send()
      }
    })
    const client = await KafkaWireClient.connect('127.0.0.1', port)
    try {
      await expect(client.request(ApiKey.Metadata, 1, { topics: null }, { timeoutMs: 50 })).rejects.toMatchObject({ kind: 'timeout' })
      const second = await client.request(ApiKey.Metadata, 1, { topics: null })
      expect(second.controllerId).toBe(2)
      expect(client.closed).toBe(false)
    } finally {
      await client.close()
    }
  })

  it('fails every pending request on a wrong correlation id, and on a closed socket', async () => {
    const port = await fakeServer((socket, header) => {
      if (header.correlationId === 1) respond(socket, ApiKey.Metadata, header.apiVersion, 0, 77, metadataBody)
    })
    const client = await KafkaWireClient.connect('127.0.0.1', port)
    const first = client.request(ApiKey.Metadata, 1, { topics: null })
    const second = client.request(ApiKey.Metadata, 1, { topics: null })
    await expect(first).rejects.toThrow(/correlation id 77, expected 1/)
    await expect(second).rejects.toMatchObject({ kind: 'protocol' })
    expect(client.closed).toBe(true)

    const closing = await fakeServer((socket) => socket.destroy())
    const other = await KafkaWireClient.connect('127.0.0.1', closing)
    await expect(other.request(ApiKey.Metadata, 1, { topics: null })).rejects.toMatchObject({ kind: 'closed' })
  })

  it('reports a refused connection as a connect error', async () => {
    const port = await fakeServer(() => undefined)
    await new Promise((resolve) => servers.pop()!.close(resolve))
    await expect(KafkaWireClient.connect('127.0.0.1', port)).rejects.toMatchObject({ kind: 'connect' })
  })
})
