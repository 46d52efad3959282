/**
 * An offset commit acknowledged to a kafkajs consumer survives kill -9 of the broker: the
 * broker runs as a child process (`ringlog serve`), is SIGKILLed right after the commit's
 * response, restarted on the same data dir, and OffsetFetch returns the commit.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { kafkaClient, tempDir, waitFor } from '../compat/groups-harness.js'
import { ringlogArgv } from '../node-argv.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

interface ChildBroker { child: ChildProcess; bootstrap: string }

function startChildBroker(dataDir: string): Promise<ChildBroker> {
  const child = spawn(process.execPath, ringlogArgv([
    'serve', '--port', '0', '--data-dir', dataDir, '--flush', 'never', '--max-workers', '2',
    '--group-initial-rebalance-delay-ms', '100', '--group-min-session-timeout-ms', '500',
  ]), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`broker did not start: ${err}`)) }, 30_000)
    child.stderr!.on('data', (chunk: Buffer) => { err += chunk.toString() })
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /listening on ([\d.]+):(\d+)/.exec(out)
      if (match) { clearTimeout(timer); resolve({ child, bootstrap: `${match[1]}:${match[2]}` }) }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`broker exited with ${code}: ${err}`)) })
  })
}

function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    process.kill(child.pid!, 'SIGKILL')
  })
}

describe('group offsets under kill -9', () => {
  const dir = tempDir('groups-kill')
  const children: ChildProcess[] = []
  afterAll(async () => {
    for (const child of children) await killHard(child)
    dir.remove()
  })

  it('a commit acknowledged to kafkajs is returned by OffsetFetch after the broker is SIGKILLed and restarted', async () => {
    const first = await startChildBroker(dir.path)
    children.push(first.child)
    const kafka = kafkaClient(first.bootstrap)
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: 'durable', numPartitions: 2 }] })
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic: 'durable', acks: -1, messages: Array.from({ length: 200 }, (_, i) => ({ partition: i % 2, value: `v${i}` })) })
    const consumer = kafka.consumer({ groupId: 'durable-group', sessionTimeout: 3000, heartbeatInterval: 250, maxWaitTimeInMs: 100 })
    await consumer.connect()
    await consumer.subscribe({ topic: 'durable', fromBeginning: true })
    let seen = 0
    await consumer.run({ autoCommit: false, eachMessage: async () => { seen++ } })
    await waitFor('200 records', () => seen === 200)
    // A run of commits, each awaited; the broker dies right after the last acknowledgement.
    for (let offset = 1; offset <= 20; offset++) {
      await consumer.commitOffsets([{ topic: 'durable', partition: 0, offset: String(offset * 5) }, { topic: 'durable', partition: 1, offset: String(offset * 3) }])
    }
    await killHard(first.child)
    // The clients' connections are gone with the broker; disconnecting only stops their loops.
    await Promise.allSettled([consumer.disconnect(), producer.disconnect(), admin.disconnect()])

    const second = await startChildBroker(dir.path)
    children.push(second.child)
    const admin2 = kafkaClient(second.bootstrap).admin()
    await admin2.connect()
    const fetched = await admin2.fetchOffsets({ groupId: 'durable-group', topics: ['durable'] })
    await admin2.disconnect()
    expect(fetched[0].partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([[0, '100'], [1, '60']])
    await killHard(second.child)
  })
})
