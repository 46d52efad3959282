/**
 * Where the admin commands send their requests (src/kafka-client/coordinator-connection.ts,
 * partition-leaders.ts, node-connections.ts):
 * - routing: the bootstrap address is a TCP relay in front of a real broker, so FindCoordinator
 *   and Metadata name another address (the broker's own port); the relay reads the api key of
 *   every request frame it carries and must see only ApiVersions, FindCoordinator and Metadata:
 *   group requests go to the coordinator, ListOffsets and DeleteRecords to the partition's
 *   leader. kafkajs reads the effects back.
 * - retry: a fake broker answers FindCoordinator COORDINATOR_NOT_AVAILABLE (what a cluster says
 *   while it creates the offsets topic) a few times; the lookup asks again, within its bound.
 */
import { connect, createServer, type Server, type Socket } from 'node:net'
import kafkajs from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deleteGroups, resetGroupOffsets } from '../../src/cli/groups.js'
import { deleteRecords } from '../../src/cli/records.js'
import { findGroupCoordinator } from '../../src/kafka-client/coordinator-connection.js'
import { withWireClient, connectNegotiated } from '../../src/kafka-client/negotiated-client.js'
import { ApiKey, codecFor } from '../../src/kafka-client/kafka-wire-client.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { FrameDecoder } from '../../src/protocol/frame.js'
import { decodeRequestHeader, encodeResponseHeader, responseHeaderVersion } from '../../src/protocol/headers.js'
import { Reader, Writer } from '../../src/protocol/primitives.js'
import { startTestBroker, type TestBroker } from '../broker/test-broker.js'

const { Kafka, logLevel } = kafkajs

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port))
  })
}

function close(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy()
  return new Promise((resolve) => server.close(() => resolve()))
}

/** A relay to `port` that records the api key of every request frame it forwards. */
async function startRelay(port: number): Promise<{ port: number; apiKeys: number[]; stop(): Promise<void> }> {
  const apiKeys: number[] = []
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port })
    sockets.add(client).add(upstream)
    const frames = new FrameDecoder()
    client.on('data', (chunk: Buffer) => {
      for (const frame of frames.push(chunk)) apiKeys.push(frame.readInt16BE(0))
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => client.write(chunk))
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    client.on('error', () => undefined)
    upstream.on('error', () => undefined)
  })
  const relayPort = await listen(server)
  return { port: relayPort, apiKeys, stop: () => close(server, sockets) }
}

/** A fake broker that speaks ApiVersions and FindCoordinator v0-3 only; `answer` picks each FindCoordinator's error code. */
async function startFakeCoordinatorLookup(answer: (attempt: number) => number): Promise<{ port: number; attempts(): number; stop(): Promise<void> }> {
  let attempts = 0
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    const frames = new FrameDecoder()
    socket.on('error', () => undefined)
    socket.on('data', (chunk: Buffer) => {
      for (const frame of frames.push(chunk)) {
        const r = new Reader(frame)
        const header = decodeRequestHeader(r)
        const w = new Writer(256)
        w.int32(0)
        encodeResponseHeader(w, responseHeaderVersion(header.apiKey, header.apiVersion), header.correlationId)
        if (header.apiKey === ApiKey.ApiVersions) {
          codecFor(ApiKey.ApiVersions).encodeResponse(w, header.apiVersion, {
            errorCode: 0, throttleTimeMs: 0,
            apiKeys: [{ apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 3 }, { apiKey: ApiKey.FindCoordinator, minVersion: 0, maxVersion: 3 }],
          })
        } else {
          const errorCode = answer(attempts++)
          codecFor(ApiKey.FindCoordinator).encodeResponse(w, header.apiVersion, errorCode === ErrorCode.NONE
            ? { errorCode, errorMessage: null, nodeId: 7, host: '127.0.0.1', port: 9 }
            : { errorCode, errorMessage: 'offsets topic is being created', nodeId: -1, host: '', port: -1 })
        }
        w.setInt32(0, w.length - 4)
        socket.write(w.finish())
      }
    })
  })
  const port = await listen(server)
  return { port, attempts: () => attempts, stop: () => close(server, sockets) }
}

let broker: TestBroker

beforeAll(async () => {
  broker = await startTestBroker({ numPartitions: 1, groupInitialRebalanceDelayMs: 0 })
})

afterAll(async () => {
  await broker?.destroy()
})

describe('the connection to a group\'s coordinator', () => {
  it('sends group requests to the coordinator FindCoordinator names and partition requests to the leader Metadata names', async () => {
    const kafka = new Kafka({ clientId: 'coordinator-test', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    const relay = await startRelay(broker.port)
    try {
      await admin.createTopics({ topics: [{ topic: 'routed', numPartitions: 2 }] })
      const producer = kafka.producer()
      await producer.connect()
      await producer.send({ topic: 'routed', messages: [{ value: 'a', partition: 0 }, { value: 'b', partition: 0 }, { value: 'c', partition: 1 }] })
      await producer.disconnect()

      const plan = await resetGroupOffsets(`127.0.0.1:${relay.port}`, 'routed-group', [{ topic: 'routed', partitions: null }], { kind: 'latest' }, true)
      expect(plan.offsets.map((p) => p.newOffset)).toEqual([2, 1])
      const [committed] = await admin.fetchOffsets({ groupId: 'routed-group', topics: ['routed'] })
      expect(committed.partitions.sort((a, b) => a.partition - b.partition).map((p) => p.offset)).toEqual(['2', '1'])

      expect(await deleteGroups(`127.0.0.1:${relay.port}`, ['routed-group'])).toEqual([{ groupId: 'routed-group', errorCode: ErrorCode.NONE }])
      expect((await admin.listGroups()).groups.map((g) => g.groupId)).not.toContain('routed-group')

      expect(await withWireClient(`127.0.0.1:${relay.port}`, (client) => deleteRecords(client, 'routed', 0, 1))).toBe(1)
      expect((await admin.fetchTopicOffsets('routed')).find((p) => p.partition === 0)).toMatchObject({ low: '1', high: '2' })

      // Through the relay: only each command's ApiVersions and lookups.
      expect(relay.apiKeys).toEqual([
        ApiKey.ApiVersions, ApiKey.FindCoordinator, ApiKey.Metadata, // reset-offsets
        ApiKey.ApiVersions, ApiKey.FindCoordinator, // delete
        ApiKey.ApiVersions, ApiKey.Metadata, // records delete
      ])
    } finally {
      await relay.stop()
      await admin.disconnect()
    }
  })

  it('asks again while the coordinator is not available, within a bound', async () => {
    const settling = await startFakeCoordinatorLookup((attempt) => (attempt < 3 ? ErrorCode.COORDINATOR_NOT_AVAILABLE : ErrorCode.NONE))
    const never = await startFakeCoordinatorLookup(() => ErrorCode.COORDINATOR_NOT_AVAILABLE)
    const refused = await startFakeCoordinatorLookup(() => ErrorCode.INVALID_REQUEST)
    try {
      expect(await withWireClient(`127.0.0.1:${settling.port}`, (c) => findGroupCoordinator(c, 'g'))).toEqual({ nodeId: 7, host: '127.0.0.1', port: 9 })
      expect(settling.attempts()).toBe(4)

      const client = await connectNegotiated(`127.0.0.1:${never.port}`)
      try {
        await expect(findGroupCoordinator(client, 'g', 300)).rejects.toThrow('cannot find the coordinator of group "g": COORDINATOR_NOT_AVAILABLE (offsets topic is being created)')
      } finally {
        await client.close()
      }
      // The pauses grow 50, 100, 200 ms: within 300 ms at most 3 answers can be asked for, however slow the machine.
      expect(never.attempts()).toBeGreaterThanOrEqual(1)
      expect(never.attempts()).toBeLessThanOrEqual(3)

      await expect(withWireClient(`127.0.0.1:${refused.port}`, (c) => findGroupCoordinator(c, 'g'))).rejects.toThrow(/INVALID_REQUEST/)
      expect(refused.attempts()).toBe(1)
    } finally {
      await Promise.all([settling.stop(), never.stop(), refused.stop()])
    }
  })
})
