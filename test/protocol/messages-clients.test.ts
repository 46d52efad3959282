/**
 * Real clients against a minimal 127.0.0.1 responder built only from these codecs: kcat
 * (librdkafka 2.0.2: flexible ApiVersions v3 with request header v2, then Metadata v4) and kafkajs (never
 * flexible: ApiVersions v2, Metadata v6). Both must read our ApiVersions and Metadata responses and report the topic.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Kafka, logLevel } from 'kafkajs'
import { FrameDecoder } from '../../src/protocol/frame.js'
import { decodeRequestHeader, encodeResponseHeader, responseHeaderVersion } from '../../src/protocol/headers.js'
import { API_CODECS } from '../../src/protocol/messages/index.js'
import * as apiVersions from '../../src/protocol/messages/api-versions.js'
import * as metadata from '../../src/protocol/messages/metadata.js'
import { Reader, Writer } from '../../src/protocol/primitives.js'
import { skipWithout } from '../compat/required-tool.js'

const seen: string[] = []
let server: net.Server
let port = 0

function respond(frame: Buffer, socket: net.Socket): void {
  const r = new Reader(frame)
  const header = decodeRequestHeader(r)
  seen.push(`${header.apiKey}v${header.apiVersion}`)
  const w = new Writer()
  w.int32(0)
  if (header.apiKey === apiVersions.API_KEY) {
    const supported = header.apiVersion <= apiVersions.MAX_VERSION
    const version = supported ? header.apiVersion : 0
    if (supported) apiVersions.decodeApiVersionsRequest(r, version)
    encodeResponseHeader(w, responseHeaderVersion(header.apiKey, version), header.correlationId)
    apiVersions.encodeApiVersionsResponse(w, version, {
      errorCode: supported ? 0 : 35,
      apiKeys: [...API_CODECS.values()].map((c) => ({ apiKey: c.apiKey, minVersion: c.minVersion, maxVersion: c.maxVersion })),
    })
  } else if (header.apiKey === metadata.API_KEY) {
    metadata.decodeMetadataRequest(r, header.apiVersion)
    encodeResponseHeader(w, responseHeaderVersion(header.apiKey, header.apiVersion), header.correlationId)
    metadata.encodeMetadataResponse(w, header.apiVersion, {
      brokers: [{ nodeId: 1, host: '127.0.0.1', port }],
      clusterId: header.apiVersion >= 2 ? 'ringlog-codec-test' : null,
      controllerId: 1,
      topics: [{ name: 'alpha', partitions: [{ partitionIndex: 0, leaderId: 1, replicaNodes: [1], isrNodes: [1] }] }],
    })
  } else {
    socket.destroy()
    return
  }
  w.setInt32(0, w.length - 4)
  socket.write(Buffer.from(w.finish()))
}

beforeAll(async () => {
  server = net.createServer((socket) => {
    const frames = new FrameDecoder(1 << 20)
    socket.on('error', () => socket.destroy())
    socket.on('data', (chunk) => {
      try {
        for (const frame of frames.push(chunk)) respond(frame, socket)
      } catch {
        socket.destroy()
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as net.AddressInfo).port
})

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

describe('real clients read our responses', () => {
  it.skipIf(skipWithout('kcat', existsSync('/usr/bin/kcat'), 'kcat'))('kcat -L (librdkafka, flexible versions)', async () => {
    seen.length = 0
    const out = await new Promise<string>((resolve, reject) => {
      const child = execFile('/usr/bin/kcat', ['-b', `127.0.0.1:${port}`, '-L', '-J', '-m', '10'], { timeout: 20_000 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`kcat failed: ${error.message} ${stderr}`))
        else resolve(stdout)
      })
      child.on('error', reject)
    })
    const meta = JSON.parse(out) as { brokers: { id: number; name: string }[]; topics: { topic: string; partitions: { partition: number; leader: number }[] }[] }
    expect(meta.brokers).toEqual([{ id: 1, name: `127.0.0.1:${port}` }])
    expect(meta.topics.map((t) => t.topic)).toEqual(['alpha'])
    expect(meta.topics[0].partitions[0]).toMatchObject({ partition: 0, leader: 1 })
    expect(seen[0]).toBe('18v3')
    expect(seen.some((s) => s.startsWith('3v'))).toBe(true)
  })

  it('kafkajs admin fetchTopicMetadata (non-flexible versions)', async () => {
    seen.length = 0
    const kafka = new Kafka({ clientId: 'codec-test', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 5000, requestTimeout: 5000 })
    const admin = kafka.admin()
    try {
      await admin.connect()
      const { topics } = await admin.fetchTopicMetadata({ topics: ['alpha'] })
      expect(topics).toEqual([{ name: 'alpha', partitions: [expect.objectContaining({ partitionId: 0, leader: 1, replicas: [1], isr: [1] })] }])
    } finally {
      await admin.disconnect()
    }
    expect(seen[0]).toMatch(/^18v[0-2]$/)
  })
})
