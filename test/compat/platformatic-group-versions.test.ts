/**
 * @platformatic/kafka 1.35 picks the newest version both sides know, so against `ringlog serve`
 * it now speaks the group API versions added for issue 14: FindCoordinator v5, JoinGroup v9,
 * OffsetCommit v9, OffsetFetch v9, LeaveGroup v5 and ListGroups v5 (types filter, default
 * ["classic"]). The broker runs at debug level, so each request's API and version is on its
 * stderr; the test checks those versions were used and answered without error.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka'
import { startRinglogBroker, type RinglogBroker } from '../cli/ringlog-process.js'

const TOPIC = 'plat-versions'
const GROUP = 'plat-versions-group'
const COUNT = 20

let dir: string
let broker: RinglogBroker
let brokers: string[]

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ringlog-plat-versions-'))
  broker = await startRinglogBroker(['--data-dir', join(dir, 'data'), '--partitions', '2', '--log-level', 'debug'], { RINGLOG_GROUP_INITIAL_REBALANCE_DELAY_MS: '0' })
  brokers = [`127.0.0.1:${broker.port}`]
})

afterAll(async () => {
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** The broker's debug "request" lines: API name, version and first error. */
function requestsSeen(): { api: string; version: number; error: string }[] {
  return broker.stderr().split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return []
    const parsed = JSON.parse(line) as { msg?: string; api?: string; version?: number; error?: string }
    return parsed.msg === 'request' && parsed.api !== undefined && parsed.version !== undefined ? [{ api: parsed.api, version: parsed.version, error: parsed.error ?? '' }] : []
  })
}

describe('@platformatic/kafka on the newest group API versions', () => {
  it('joins (v9), commits (v9), fetches offsets (v9), leaves (v5) and lists groups by type (v5)', async () => {
    const setup = new Admin({ clientId: 'plat-v-setup', bootstrapBrokers: brokers })
    try {
      await setup.createTopics({ topics: [TOPIC], partitions: 2, replicas: 1 })
    } finally {
      await setup.close()
    }
    const producer = new Producer({ clientId: 'plat-v-producer', bootstrapBrokers: brokers, serializers: stringSerializers, acks: -1 })
    try {
      await producer.send({ messages: Array.from({ length: COUNT }, (_, i) => ({ topic: TOPIC, key: `k${i}`, value: `v${i}`, partition: i % 2 })) })
    } finally {
      await producer.close()
    }
    const consumer = new Consumer({ groupId: GROUP, clientId: 'plat-v-consumer', bootstrapBrokers: brokers, deserializers: stringDeserializers, maxWaitTime: 200 })
    const admin = new Admin({ clientId: 'plat-v-admin', bootstrapBrokers: brokers })
    try {
      const stream = await consumer.consume({ autocommit: false, topics: [TOPIC], mode: 'earliest', sessionTimeout: 10_000, heartbeatInterval: 300 })
      let read = 0
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`read ${read} of ${COUNT} records`)), 30_000)
        stream.on('error', reject)
        stream.on('data', (message) => {
          read++
          Promise.resolve(message.commit()).catch(reject)
          if (read >= COUNT) { clearTimeout(timer); resolve() }
        })
      })
      await stream.close()
      await consumer.close()

      const [offsets] = await admin.listConsumerGroupOffsets({ groups: [GROUP] })
      const committed = offsets.topics.find((t) => t.name === TOPIC)!.partitions.map((p) => p.committedOffset).reduce((a, b) => a + b, 0n)
      expect(committed).toBe(BigInt(COUNT))
      expect([...(await admin.listGroups()).keys()]).toContain(GROUP)
      expect([...(await admin.listGroups({ types: ['consumer'] })).keys()]).toEqual([])
    } finally {
      await admin.close()
    }

    const seen = requestsSeen()
    const versionsOf = (api: string) => [...new Set(seen.filter((r) => r.api === api).map((r) => r.version))]
    expect(versionsOf('JoinGroup')).toEqual([9])
    expect(versionsOf('OffsetCommit')).toEqual([9])
    expect(versionsOf('OffsetFetch')).toEqual([9])
    expect(versionsOf('LeaveGroup')).toEqual([5])
    expect(versionsOf('ListGroups')).toEqual([5])
    expect(versionsOf('FindCoordinator')).toEqual([5])
    // The join's MEMBER_ID_REQUIRED is part of the protocol; everything else answered NONE.
    const failed = seen.filter((r) => ['OffsetCommit', 'OffsetFetch', 'LeaveGroup', 'ListGroups', 'FindCoordinator', 'SyncGroup'].includes(r.api) && r.error !== 'NONE')
    expect(failed).toEqual([])
  })
})
