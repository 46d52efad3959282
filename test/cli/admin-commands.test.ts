/**
 * The admin commands, each run as a real `ringlog` process (the compiled bin/ringlog.js) against
 * one `ringlog serve` child on 127.0.0.1:0, with every effect checked through kafkajs: topics
 * alter / describe --configs, records delete, groups reset-offsets (a kafkajs consumer of the
 * group starts at the reset offset) and groups delete. Independent steps run concurrently; every
 * wait is on a process or a kafkajs call, never on a timer.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import kafkajs, { type Admin, type Consumer, type Kafka as KafkaClient } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resetGroupOffsets } from '../../src/cli/groups.js'
import { assertBuilt, closedPort, runRinglog, startRinglogBroker, type RinglogBroker, type RunResult } from './ringlog-process.js'

const { Kafka, ConfigResourceTypes, logLevel } = kafkajs

let broker: RinglogBroker
let dir: string
let bootstrap: string
let kafka: KafkaClient
let admin: Admin

beforeAll(async () => {
  assertBuilt()
  dir = mkdtempSync(join(tmpdir(), 'ringlog-cli-admin-'))
  broker = await startRinglogBroker(['--data-dir', join(dir, 'data'), '--partitions', '1', '--flush', 'never', '--group-initial-rebalance-delay-ms', '0'])
  bootstrap = broker.bootstrap
  kafka = new Kafka({ clientId: 'cli-admin-test', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 50, maxRetryTime: 500 } })
  admin = kafka.admin()
  await admin.connect()
})

afterAll(async () => {
  await admin?.disconnect()
  await broker?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

async function ok(args: string[]): Promise<string> {
  const result = await runRinglog([...args, '-b', bootstrap])
  if (result.code !== 0) throw new Error(`ringlog ${args.join(' ')} exited ${result.code}: ${result.stderr}`)
  return result.stdout
}

/** The shape of every failure: exit 1, stderr exactly one `ringlog: ` line matching `message`. */
function expectFailure(result: RunResult, message: RegExp): void {
  expect(result.stderr).toMatch(/^ringlog: [^\n]+\n$/)
  expect(result.stderr).toMatch(message)
  expect(result.code).toBe(1)
}

async function topicConfigs(topic: string): Promise<Map<string, { value: string; source: number | undefined }>> {
  const described = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }], includeSynonyms: false })
  return new Map(described.resources[0].configEntries.map((e) => [e.configName, { value: e.configValue, source: (e as { configSource?: number }).configSource }]))
}

async function partitionCount(topic: string): Promise<number> {
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] })
  return metadata.topics[0].partitions.length
}

async function committed(groupId: string, topic: string): Promise<string[]> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] })
  return offsets.partitions.sort((a, b) => a.partition - b.partition).map((p) => p.offset)
}

/** Starts a kafkajs consumer of `groupId` and resolves with it and the first message offset it is given. */
async function consumerStartingOffset(groupId: string, topic: string): Promise<{ consumer: Consumer; first: Promise<string> }> {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  let resolveFirst: (offset: string) => void = () => undefined
  const first = new Promise<string>((resolve) => { resolveFirst = resolve })
  await consumer.run({ eachMessage: async ({ message }) => resolveFirst(message.offset) })
  return { consumer, first }
}

describe('ringlog admin commands', () => {
  it('topics alter raises partitions and sets/deletes configs, validated before anything changes; describe --configs lists them', async () => {
    await admin.createTopics({ topics: [{ topic: 'alt', numPartitions: 2, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] })
    const altered = await ok(['topics', 'alter', 'alt', '-p', '4', '--config', 'retention.ms=60000', '--delete-config', 'cleanup.policy'])
    expect(altered).toBe('altered topic alt: 4 partitions, retention.ms=60000, cleanup.policy deleted\n')
    expect(await partitionCount('alt')).toBe(4)
    const configs = await topicConfigs('alt')
    expect(configs.get('retention.ms')).toEqual({ value: '60000', source: 1 })
    expect(configs.get('cleanup.policy')).toEqual({ value: 'delete', source: 5 })
    // A new partition takes writes.
    const producer = kafka.producer()
    await producer.connect()
    const [sent] = await producer.send({ topic: 'alt', messages: [{ value: 'to the new partition', partition: 3 }] })
    await producer.disconnect()
    expect(sent).toMatchObject({ partition: 3, errorCode: 0 })

    const [badConfig, shrink, described, describedJson] = await Promise.all([
      runRinglog(['topics', 'alter', 'alt', '-b', bootstrap, '-p', '8', '--config', 'retention.ms=soon']),
      runRinglog(['topics', 'alter', 'alt', '-b', bootstrap, '-p', '3']),
      ok(['topics', 'describe', 'alt', '--configs']),
      ok(['topics', 'describe', 'alt', '--configs', '--json']),
    ])
    expectFailure(badConfig, /cannot alter topic "alt": INVALID_CONFIG \(retention\.ms .*"soon"\)/)
    expectFailure(shrink, /cannot alter topic "alt": INVALID_PARTITIONS \(Topic currently has 4 partitions, which is higher than the requested 3\.\)/)
    // The refused config kept the partition count too: both were checked before either applied.
    expect(await partitionCount('alt')).toBe(4)
    expect((await topicConfigs('alt')).get('retention.ms')?.value).toBe('60000')

    expect(described).toMatch(/^Topic: alt\t.*PartitionCount: 4/)
    expect(described).toMatch(/^CONFIG +VALUE +SOURCE +READ-ONLY$/m)
    expect(described).toMatch(/^retention\.ms +60000 +DYNAMIC_TOPIC_CONFIG +false$/m)
    expect(described).toMatch(/^cleanup\.policy +delete +DEFAULT_CONFIG +false$/m)
    const json = JSON.parse(describedJson) as { partitions: unknown[]; configs: { name: string; value: string; source: string; readOnly: boolean }[] }
    expect(json.partitions).toHaveLength(4)
    // Every config kafkajs sees, with the same values.
    expect(Object.fromEntries(json.configs.map((c) => [c.name, c.value]))).toEqual(Object.fromEntries([...configs].map(([name, c]) => [name, c.value])))
  })

  it('records delete moves the log start offset; past the high watermark and unknown partitions fail', async () => {
    await admin.createTopics({ topics: [{ topic: 'rec', numPartitions: 1 }] })
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic: 'rec', messages: Array.from({ length: 10 }, (_, i) => ({ value: `r${i}` })) })
    await producer.disconnect()

    expect(await ok(['records', 'delete', 'rec', '--partition', '0', '--before', '4'])).toBe('deleted records of rec-0 below offset 4: log start offset 4\n')
    const [offsets] = await admin.fetchTopicOffsets('rec')
    expect(offsets).toMatchObject({ partition: 0, low: '4', high: '10' })

    const [past, unknownPartition] = await Promise.all([
      runRinglog(['records', 'delete', 'rec', '-b', bootstrap, '-p', '0', '--before', '50']),
      runRinglog(['records', 'delete', 'rec', '-b', bootstrap, '-p', '7', '--before', '1']),
    ])
    expectFailure(past, /cannot delete records of rec-0: OFFSET_OUT_OF_RANGE \(offset 50 is past the high watermark 10\)/)
    expectFailure(unknownPartition, /cannot delete records of rec-7: UNKNOWN_TOPIC_OR_PARTITION/)

    expect(await ok(['records', 'delete', 'rec', '-p', '0', '--before', '-1'])).toBe('deleted records of rec-0 below the high watermark: log start offset 10\n')
    expect((await admin.fetchTopicOffsets('rec'))[0]).toMatchObject({ low: '10', high: '10' })
  })

  it('groups reset-offsets: refused while the group is active, a dry run by default, then a consumer starts at the reset offset; groups delete', async () => {
    const base = Date.UTC(2024, 0, 1)
    await admin.createTopics({ topics: [{ topic: 'rst', numPartitions: 1 }] })
    const producer = kafka.producer()
    await producer.connect()
    // One second apart, so --to-datetime has an exact answer.
    await producer.send({ topic: 'rst', messages: Array.from({ length: 20 }, (_, i) => ({ value: `m${i}`, timestamp: String(base + i * 1000) })) })
    await producer.disconnect()

    const active = await consumerStartingOffset('rg', 'rst')
    expect(await active.first).toBe('0')
    const [refused, refusedDelete] = await Promise.all([
      runRinglog(['groups', 'reset-offsets', 'rg', '-b', bootstrap, '--topic', 'rst', '--to-offset', '5', '--execute']),
      runRinglog(['groups', 'delete', 'rg', '-b', bootstrap]),
    ])
    expectFailure(refused, /^ringlog: Assignments can only be reset if the group 'rg' is inactive, but the current state is Stable\.\n$/)
    expectFailure(refusedDelete, /cannot delete group "rg": NON_EMPTY_GROUP/)
    await active.consumer.disconnect()
    const before = await committed('rg', 'rst')

    // Dry run (the default): the plan, and nothing changes.
    const plan = await ok(['groups', 'reset-offsets', 'rg', '--topic', 'rst', '--to-offset', '5'])
    expect(plan).toBe('GROUP  TOPIC  PARTITION  NEW-OFFSET\nrg     rst    0          5\n')
    expect(await committed('rg', 'rst')).toEqual(before)

    expect(await ok(['groups', 'reset-offsets', 'rg', '--topic', 'rst:0', '--to-offset', '5', '--execute'])).toBe(plan)
    expect(await committed('rg', 'rst')).toEqual(['5'])
    const resumed = await consumerStartingOffset('rg', 'rst')
    expect(await resumed.first).toBe('5')
    await resumed.consumer.disconnect()

    // The other scenarios, each executed on its own group (first committed at 10, in-process: kafkajs's
    // setOffsets joins the group with a consumer, seconds each) and read back by kafkajs.
    const scenarios: [string, string[], string][] = [
      ['earliest', ['--to-earliest'], '0'],
      ['shift-down', ['--shift-by', '-3'], '7'],
      ['shift-past-end', ['--shift-by', '30'], '20'],
      ['datetime', ['--to-datetime', new Date(base + 11_500).toISOString()], '12'],
      ['latest', ['--to-latest'], '20'],
    ]
    await Promise.all(scenarios.map(([name]) => resetGroupOffsets(bootstrap, `rg-${name}`, [{ topic: 'rst', partitions: null }], { kind: 'offset', offset: 10 }, true)))
    expect(await Promise.all(scenarios.map(([name]) => committed(`rg-${name}`, 'rst')))).toEqual(scenarios.map(() => ['10']))
    await Promise.all(scenarios.map(([name, flags]) => ok(['groups', 'reset-offsets', `rg-${name}`, '--all-topics', ...flags, '--execute'])))
    const after = await Promise.all(scenarios.map(([name]) => committed(`rg-${name}`, 'rst')))
    expect(after).toEqual(scenarios.map(([, , expected]) => [expected]))

    const [deleted, unknownTopic, noShiftBase] = await Promise.all([
      runRinglog(['groups', 'delete', 'rg', 'no-such-group', '-b', bootstrap]),
      runRinglog(['groups', 'reset-offsets', 'rg', '-b', bootstrap, '--topic', 'nope', '--to-latest']),
      runRinglog(['groups', 'reset-offsets', 'fresh', '-b', bootstrap, '--topic', 'rst', '--shift-by', '1']),
    ])
    expect(deleted.stdout).toBe('deleted group rg\n')
    expectFailure(deleted, /cannot delete group "no-such-group": GROUP_ID_NOT_FOUND/)
    expectFailure(unknownTopic, /topic "nope" does not exist/)
    expectFailure(noShiftBase, /Cannot shift offset for partition rst-0 since there is no current committed offset/)
    const groups = await admin.listGroups()
    expect(groups.groups.map((g) => g.groupId)).not.toContain('rg')
    expect(await committed('rg', 'rst')).toEqual(['-1'])
  })

  it('the new commands fail with one line when the broker is down', async () => {
    const down = `127.0.0.1:${await closedPort()}`
    const results = await Promise.all([
      ['topics', 'alter', 't', '-p', '2'],
      ['records', 'delete', 't', '-p', '0', '--before', '1'],
      ['groups', 'reset-offsets', 'g', '--topic', 't', '--to-latest'],
    ].map((args) => runRinglog([...args, '-b', down])))
    for (const result of results) {
      expectFailure(result, new RegExp(`cannot connect to ${down.replace(/\./g, '\\.')}`))
      expect(result.stdout).toBe('')
    }
  })
})
