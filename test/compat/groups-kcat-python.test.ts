/**
 * librdkafka (kcat balanced consumer, auto commit) and kafka-python (manual commit(),
 * commit_async(), a consumer SIGKILLed between processing and committing) in consumer groups.
 * Each client runs as a child process, stopped by its PID.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BrokerServer } from '../../src/broker/server.js'
import { describeGroup, listGroups } from '../../src/cli/groups.js'
import { ringlogArgv } from '../node-argv.js'
import { bootstrapOf, kafkaClient, produceNumbered, startBroker, tempDir, waitFor } from './groups-harness.js'
import { skipWithout } from './required-tool.js'

const PYTHON = '/usr/bin/python3'
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const hasKcat = spawnSync('kcat', ['-V']).status === 0
const hasKafkaPython = spawnSync(PYTHON, ['-c', 'import kafka']).status === 0

/** A kafka-python consumer driven by a JSON plan; prints one JSON line per event. */
// biome-ignore lint/complexity/noUselessStringRaw: raw so that Python escapes added later stay literal
const PYTHON_CONSUMER = String.raw`
import json, sys, time
from kafka import KafkaConsumer
plan = json.loads(sys.argv[1])
def say(**event):
    print(json.dumps(event), flush=True)
consumer = KafkaConsumer(plan['topic'], group_id=plan['group'], bootstrap_servers=plan['bootstrap'],
    client_id=plan['clientId'], auto_offset_reset='earliest', enable_auto_commit=False,
    session_timeout_ms=2000, heartbeat_interval_ms=300, max_poll_interval_ms=plan.get('maxPollIntervalMs', 3000),
    request_timeout_ms=10000)
consumed = 0
def consume(n):
    global consumed
    deadline = time.time() + 30
    while consumed < n and time.time() < deadline:
        for records in consumer.poll(timeout_ms=200, max_records=n - consumed).values():
            for r in records:
                say(offset=r.offset, partition=r.partition, value=r.value.decode())
                consumed += 1
for step in plan['steps']:
    if step['do'] == 'consume':
        consume(step['until'])
    elif step['do'] == 'commit':
        consumer.commit()
        say(committed=consumed)
    elif step['do'] == 'commit_async':
        done = []
        consumer.commit_async(callback=lambda offsets, response: done.append(str(response)))
        deadline = time.time() + 10
        while not done and time.time() < deadline:
            consumer.poll(timeout_ms=100)
        say(committed_async=consumed, response=done[0] if done else None)
    elif step['do'] == 'hang':
        say(ready=True)
        time.sleep(60)
consumer.close(autocommit=False)
say(closed=True)
`

const execFileAsync = promisify(execFile)

async function runCli(args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(process.execPath, ringlogArgv(args), { cwd: ROOT, timeout: 30_000 })
  return stdout
}

interface Event { offset?: number; partition?: number; value?: string; committed?: number; committed_async?: number; response?: string | null; ready?: boolean; closed?: boolean }

class ChildClient {
  readonly lines: string[] = []
  stderr = ''
  readonly exited: Promise<number | null>
  constructor(readonly child: ChildProcess) {
    let partial = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split('\n')
      partial = parts.pop()!
      this.lines.push(...parts.filter((l) => l.length > 0))
    })
    child.stderr!.on('data', (chunk: Buffer) => { this.stderr += chunk.toString() })
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
  }
  get events(): Event[] { return this.lines.map((l) => JSON.parse(l) as Event) }
  kill(signal: NodeJS.Signals): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) process.kill(this.child.pid!, signal)
    return this.exited
  }
}

const skip = skipWithout('kcat', hasKcat, 'kcat') || skipWithout('kafka-python', hasKafkaPython, 'python3-kafka')

describe.skipIf(skip)('kcat and kafka-python consumer groups', () => {
  const dir = tempDir('groups-kcat-python')
  let server: BrokerServer
  let bootstrap: string
  const clients: ChildClient[] = []
  const scriptPath = join(dir.path, 'consumer.py')

  beforeAll(async () => {
    server = await startBroker(dir.path)
    bootstrap = bootstrapOf(server)
    writeFileSync(scriptPath, PYTHON_CONSUMER)
  })
  afterAll(async () => {
    for (const c of clients) await c.kill('SIGKILL')
    await server?.stop()
    dir.remove()
  })

  const python = (plan: Record<string, unknown>): ChildClient => {
    const client = new ChildClient(spawn(PYTHON, [scriptPath, JSON.stringify({ bootstrap, ...plan })], { stdio: ['ignore', 'pipe', 'pipe'] }))
    clients.push(client)
    return client
  }
  const produce = async (topic: string, partitions: number, count: number): Promise<void> => {
    const kafka = kafkaClient(bootstrap)
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] })
    await admin.disconnect()
    const producer = kafka.producer()
    await producer.connect()
    await produceNumbered(producer, topic, partitions, count)
    await producer.disconnect()
  }
  const committed = async (group: string): Promise<Map<number, number>> => {
    const g = await describeGroup(bootstrap, group)
    return new Map(g.partitions.filter((p) => p.committedOffset !== null).map((p) => [p.partition, p.committedOffset!]))
  }

  it('kcat -G reads every record, shows up in ListGroups/DescribeGroups and auto-commits', async () => {
    await produce('kcat-topic', 3, 3000)
    const kcat = new ChildClient(spawn('kcat', [
      '-b', bootstrap, '-G', 'kcat-group', 'kcat-topic', '-q', '-u', '-f', '%p:%o:%s\n',
      '-X', 'auto.offset.reset=earliest', '-X', 'auto.commit.interval.ms=100', '-X', 'session.timeout.ms=6000',
    ], { stdio: ['ignore', 'pipe', 'pipe'] }))
    clients.push(kcat)
    await waitFor('kcat read 3000', () => kcat.lines.length >= 3000, 30_000)
    expect(new Set(kcat.lines.map((l) => l.split(':')[2])).size).toBe(3000)
    expect(kcat.lines.length).toBe(3000)
    expect(await listGroups(bootstrap)).toContainEqual({ groupId: 'kcat-group', protocolType: 'consumer', state: 'Stable' })
    const g = await describeGroup(bootstrap, 'kcat-group')
    expect(g.members).toHaveLength(1)
    expect(g.members[0].clientId).toBe('rdkafka')
    expect(g.members[0].assignment).toEqual([{ topic: 'kcat-topic', partitions: [0, 1, 2] }])
    await waitFor('auto commits of all 3000', async () => [...(await committed('kcat-group')).values()].reduce((a, b) => a + b, 0) === 3000)
    await kcat.kill('SIGTERM')
    expect(await committed('kcat-group')).toEqual(new Map([[0, 1000], [1, 1000], [2, 1000]]))
  })

  it('kafka-python commit() and commit_async() store the consumed position', async () => {
    await produce('py-topic', 2, 200)
    const client = python({ topic: 'py-topic', group: 'py-group', clientId: 'py-commit', steps: [
      { do: 'consume', until: 120 }, { do: 'commit' }, { do: 'consume', until: 200 }, { do: 'commit_async' },
    ] })
    expect(await client.exited).toBe(0)
    const events = client.events
    expect(events.filter((e) => e.value !== undefined).map((e) => e.value).sort()).toEqual(Array.from({ length: 200 }, (_, i) => `value-${i}`).sort())
    expect(events.find((e) => e.committed !== undefined)?.committed).toBe(120)
    const asyncEvent = events.find((e) => e.committed_async !== undefined)
    expect(asyncEvent?.response).not.toBeNull()
    expect(asyncEvent?.response).not.toMatch(/Error/)
    expect(await committed('py-group')).toEqual(new Map([[0, 100], [1, 100]]))
  })

  it('a kafka-python consumer SIGKILLed after processing but before committing: the next member re-reads only the uncommitted range', async () => {
    await produce('py-kill', 1, 100)
    // A long max poll interval: the hanging victim must stay a member until it is killed.
    const victim = python({ topic: 'py-kill', group: 'py-kill-group', clientId: 'py-victim', maxPollIntervalMs: 60_000, steps: [
      { do: 'consume', until: 30 }, { do: 'commit' }, { do: 'consume', until: 50 }, { do: 'hang' },
    ] })
    await waitFor('victim ready', () => victim.events.some((e) => e.ready), 30_000)
    const live = await describeGroup(bootstrap, 'py-kill-group')
    expect(live.members.map((m) => [m.clientId, m.assignment])).toEqual([['py-victim', [{ topic: 'py-kill', partitions: [0] }]]])
    expect(live.partitions[0]).toMatchObject({ committedOffset: 30, logEndOffset: 100, lag: 70 })
    // The same through the command line, as a user would run it.
    // (Asynchronously: the broker answering it runs in this process.)
    const cli = await runCli(['groups', 'describe', 'py-kill-group', '--bootstrap', bootstrap, '--json'])
    expect(JSON.parse(cli)).toMatchObject({ groupId: 'py-kill-group', state: 'Stable', members: [{ clientId: 'py-victim' }], partitions: [{ topic: 'py-kill', partition: 0, committedOffset: 30, logEndOffset: 100, lag: 70 }] })
    const table = await runCli(['groups', 'describe', 'py-kill-group', '--bootstrap', bootstrap])
    expect(table).toMatch(/^py-kill\s+0\s+30\s+100\s+70\s+py-victim-/m)
    await victim.kill('SIGKILL')
    expect(victim.events.filter((e) => e.offset !== undefined).map((e) => e.offset)).toEqual(Array.from({ length: 50 }, (_, i) => i))

    // The successor waits out the victim's session, then starts at the last commit (30).
    const successor = python({ topic: 'py-kill', group: 'py-kill-group', clientId: 'py-successor', steps: [{ do: 'consume', until: 70 }, { do: 'commit' }] })
    expect(await successor.exited).toBe(0)
    const offsets = successor.events.filter((e) => e.offset !== undefined).map((e) => e.offset!)
    expect(offsets).toEqual(Array.from({ length: 70 }, (_, i) => 30 + i))
    const reread = offsets.filter((o) => o < 50)
    // Re-read: exactly the processed-but-uncommitted range 30..49.
    expect(reread).toEqual(Array.from({ length: 20 }, (_, i) => 30 + i))
    expect(await committed('py-kill-group')).toEqual(new Map([[0, 100]]))
  })
})
