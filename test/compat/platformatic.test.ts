/**
 * @platformatic/kafka 1.35 (a pure-JS client that picks the newest API versions both sides
 * know: Fetch v13+ by topic id, OffsetFetch v8+ batched groups) against a `ringlog serve`
 * process: its admin creates a topic and lists topics, configs, offsets and group offsets; an
 * idempotent producer writes; two consumers of one group share the partitions and commit; every
 * record is read (at least once: a rebalance may hand over a partition before a commit lands) and
 * the group's committed offsets end at each partition's end.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Admin, ConfigResourceTypes, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka'
import { startRinglogBroker, type RinglogBroker } from '../cli/ringlog-process.js'

const TOPIC = 'plat-events'
const PARTITIONS = 4
const COUNT = 400

let dir: string
let broker: RinglogBroker
let brokers: string[]
let admin: Admin

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ringlog-platformatic-'))
  broker = await startRinglogBroker(['--data-dir', join(dir, 'data'), '--partitions', '1', '--flush', 'always'], { RINGLOG_GROUP_INITIAL_REBALANCE_DELAY_MS: '0' })
  brokers = [`127.0.0.1:${broker.port}`]
  admin = new Admin({ clientId: 'plat-admin', bootstrapBrokers: brokers })
})

afterAll(async () => {
  await admin?.close()
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('@platformatic/kafka', () => {
  it('admin creates a topic and describes its configs', async () => {
    await admin.createTopics({ topics: [TOPIC], partitions: PARTITIONS, replicas: 1 })
    expect(await admin.listTopics()).toContain(TOPIC)
    const [described] = await admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: TOPIC, configurationKeys: ['retention.ms', 'cleanup.policy'] }] })
    expect(described.configs.map((c) => [c.name, c.value])).toEqual([['cleanup.policy', 'delete'], ['retention.ms', '604800000']])
  })

  it('an idempotent producer writes; admin lists the end offsets', async () => {
    const producer = new Producer({ clientId: 'plat-producer', bootstrapBrokers: brokers, serializers: stringSerializers, idempotent: true, acks: -1 })
    try {
      for (let start = 0; start < COUNT; start += 100) {
        await producer.send({ messages: Array.from({ length: 100 }, (_, j) => ({ topic: TOPIC, key: `k${start + j}`, value: `v${start + j}`, partition: (start + j) % PARTITIONS })) })
      }
    } finally {
      await producer.close()
    }
    const listed = await admin.listOffsets({ topics: [{ name: TOPIC, partitions: Array.from({ length: PARTITIONS }, (_, p) => ({ partitionIndex: p, timestamp: -1n })) }] })
    expect(listed[0].partitions.map((p) => [p.partitionIndex, p.offset]).sort((a, b) => Number(a[0]) - Number(b[0])))
      .toEqual(Array.from({ length: PARTITIONS }, (_, p) => [p, BigInt(COUNT / PARTITIONS)]))
  })

  it('two group members share the partitions, commit, and read every record', async () => {
    const seen = new Map<string, number>()
    const members = [0, 1].map((i) => new Consumer({
      groupId: 'plat-group', clientId: `plat-consumer-${i}`, bootstrapBrokers: brokers, deserializers: stringDeserializers, maxWaitTime: 200,
    }))
    const streams = await Promise.all(members.map((m) => m.consume({ autocommit: false, topics: [TOPIC], mode: 'earliest', sessionTimeout: 10_000, heartbeatInterval: 300 })))
    const byMember = [new Set<number>(), new Set<number>()]
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${seen.size} of ${COUNT} records`)), 60_000)
      streams.forEach((stream, i) => {
        stream.on('error', reject)
        stream.on('data', (message) => {
          seen.set(message.key as string, (seen.get(message.key as string) ?? 0) + 1)
          byMember[i].add(message.partition)
          Promise.resolve(message.commit()).catch(reject)
          if (seen.size >= COUNT) {
            clearTimeout(timer)
            resolve()
          }
        })
      })
    })
    expect(seen.size).toBe(COUNT)
    for (let i = 0; i < COUNT; i++) expect(seen.get(`k${i}`), `k${i}`).toBeGreaterThanOrEqual(1)
    expect(new Set([...byMember[0], ...byMember[1]]).size).toBe(PARTITIONS)
    await Promise.all(streams.map((s) => s.close()))
    await Promise.all(members.map((m) => m.close()))

    const [group] = await admin.listConsumerGroupOffsets({ groups: ['plat-group'] })
    const committed = group.topics.find((t) => t.name === TOPIC)!.partitions
      .map((p) => [p.partitionIndex, p.committedOffset]).sort((a, b) => Number(a[0]) - Number(b[0]))
    expect(committed).toEqual(Array.from({ length: PARTITIONS }, (_, p) => [p, BigInt(COUNT / PARTITIONS)]))
    expect([...(await admin.listGroups()).keys()]).toContain('plat-group')
  })
})
