/**
 * The operational log lines of real `ringlog serve` processes (pino JSON on stderr):
 * - `slow fdatasync` (warn) for group commits at or above --slow-fdatasync-ms (0: every one);
 * - after a crash that left a torn tail (garbage appended, no clean-shutdown marker), the
 *   restart warns `recovery truncated a partition` with exactly the garbage's bytes, and the
 *   `recovery finished` summary carries segments scanned and bytes truncated;
 * - cluster mode: `leader change` (info) on the leader and the followers of a new partition,
 *   `ISR shrink` (warn) on the leader when a SIGSTOPped follower falls behind, `ISR expand`
 *   (info) once it is resumed.
 * Needs `npm run build`; the cluster case needs /usr/bin/etcd.
 */
import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, describe, expect, it } from 'vitest'
import { DevCluster } from '../../src/cluster/dev-cluster.js'
import { CLEAN_SHUTDOWN_MARKER, partitionDirName } from '../../src/storage/file-names.js'
import { startRinglogBroker } from '../cli/ringlog-process.js'

interface LogLine { level: string; msg: string; [key: string]: unknown }

function parseLines(stderr: string): LogLine[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine)
}

const GARBAGE_BYTES = 100

describe('operational log lines', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ringlog-oplogs-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('slow fdatasync at the threshold, and the bytes recovery truncated per partition after a torn tail', async () => {
    const dataDir = join(dir, 'single')
    const first = await startRinglogBroker(['--data-dir', dataDir, '--flush', 'always', '--slow-fdatasync-ms', '0', '--log-level', 'info'])
    try {
      const kafka = new Kafka({ clientId: 'oplogs', brokers: [first.bootstrap], logLevel: logLevel.NOTHING })
      const admin = kafka.admin()
      await admin.connect()
      await admin.createTopics({ topics: [{ topic: 'synced', numPartitions: 1 }] })
      await admin.disconnect()
      const producer = kafka.producer()
      await producer.connect()
      for (let i = 0; i < 3; i++) await producer.send({ topic: 'synced', acks: -1, messages: [{ value: `v${i}` }] })
      await producer.disconnect()
    } finally {
      expect(await first.stop()).toBe(0)
    }
    const slow = parseLines(first.stderr()).filter((l) => l.msg === 'slow fdatasync' && l.topic === 'synced')
    expect(slow.length).toBeGreaterThanOrEqual(3)
    for (const line of slow) {
      expect(line).toMatchObject({ level: 'warn', partition: 0, thresholdMs: 0 })
      expect(typeof line.ms).toBe('number')
      expect(line.flushedTo).toBeGreaterThan(0)
    }

    // A crash mid-write: bytes after the last whole batch, and no clean-shutdown marker.
    const partitionDir = join(dataDir, partitionDirName('synced', 0))
    const segment = readdirSync(partitionDir).filter((n) => n.endsWith('.log')).sort().at(-1)!
    appendFileSync(join(partitionDir, segment), Buffer.alloc(GARBAGE_BYTES, 0xab))
    if (existsSync(join(partitionDir, CLEAN_SHUTDOWN_MARKER))) unlinkSync(join(partitionDir, CLEAN_SHUTDOWN_MARKER))

    const second = await startRinglogBroker(['--data-dir', dataDir, '--log-level', 'info'])
    expect(await second.stop()).toBe(0)
    const lines = parseLines(second.stderr())
    const truncated = lines.filter((l) => l.msg === 'recovery truncated a partition')
    expect(truncated).toHaveLength(1)
    expect(truncated[0]).toMatchObject({ level: 'warn', topic: 'synced', partition: 0, truncatedBytes: GARBAGE_BYTES, logEndOffset: 3 })
    expect(truncated[0].segmentsScanned).toBeGreaterThanOrEqual(1)
    expect(typeof truncated[0].reason).toBe('string')
    const summary = lines.find((l) => l.msg === 'recovery finished')
    expect(summary).toMatchObject({ level: 'info', recovered: 1, truncatedBytes: GARBAGE_BYTES })
    expect(summary!.segmentsScanned).toBeGreaterThanOrEqual(1)
  }, 60_000)

  it.skipIf(!existsSync('/usr/bin/etcd'))('cluster mode: leader change, ISR shrink when a follower stalls, ISR expand when it is back', async () => {
    const logs = new Map<number, LogLine[]>([[1, []], [2, []], [3, []]])
    const dev = await DevCluster.start({
      brokers: 3, dataDir: join(dir, 'cluster'), logLevel: 'info',
      // A long lease: the stalled broker stays registered, so it is the leader's lag check that shrinks the ISR.
      serveArgs: ['--flush', 'never', '--replica-lag-time-max-ms', '2000', '--lease-ttl-seconds', '60'],
      onLog: (id, line) => { if (line.startsWith('{')) logs.get(id)!.push(JSON.parse(line) as LogLine) },
    })
    let stalled: number | undefined
    try {
      const kafka = new Kafka({ clientId: 'oplogs-cluster', brokers: dev.bootstrap, logLevel: logLevel.NOTHING })
      const admin = kafka.admin()
      await admin.connect()
      await admin.createTopics({ topics: [{ topic: 'watched', numPartitions: 1, replicationFactor: 3 }], waitForLeaders: true })
      await admin.disconnect()
      const find = (id: number, msg: string, match: (l: LogLine) => boolean = () => true): LogLine | undefined =>
        logs.get(id)!.find((l) => l.msg === msg && l.topic === 'watched' && match(l))
      const waitFor = async (what: string, check: () => boolean): Promise<void> => {
        const deadline = Date.now() + 20_000
        while (!check()) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; logs:\n${[...logs].map(([id, ls]) => `${id}: ${ls.map((l) => JSON.stringify(l)).join('\n')}`).join('\n')}`)
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      }
      await waitFor('leader change lines on all three brokers', () => [1, 2, 3].every((id) => find(id, 'leader change')))
      const leaderLine = [1, 2, 3].map((id) => find(id, 'leader change')!).find((l) => l.role === 'leader')!
      const leader = leaderLine.leader as number
      expect(leaderLine).toMatchObject({ level: 'info', partition: 0, leaderEpoch: expect.any(Number) })
      const followers = [1, 2, 3].filter((id) => id !== leader)
      for (const id of followers) expect(find(id, 'leader change')).toMatchObject({ role: 'follower', leader })

      stalled = followers[0]
      const pid = dev.brokers.find((b) => b.id === stalled)!.pid!
      process.kill(pid, 'SIGSTOP')
      // Bootstrapped from the leader only: a client must not pick the stopped broker to connect to.
      const leaderBroker = dev.brokers.find((b) => b.id === leader)!
      const producer = new Kafka({ clientId: 'oplogs-stalled', brokers: [`${leaderBroker.host}:${leaderBroker.port}`], logLevel: logLevel.NOTHING }).producer()
      await producer.connect()
      await producer.send({ topic: 'watched', acks: 1, messages: [{ value: 'while stalled' }] })
      await producer.disconnect()
      const shrunk = (l: LogLine): boolean => !String(l.to).split(',').includes(String(stalled))
      await waitFor(`ISR shrink without broker ${stalled}`, () => find(leader, 'ISR shrink', shrunk) !== undefined)
      expect(find(leader, 'ISR shrink', shrunk)).toMatchObject({ level: 'warn', partition: 0 })
      expect(String(find(leader, 'ISR shrink', shrunk)!.from).split(',')).toContain(String(stalled))

      process.kill(pid, 'SIGCONT')
      stalled = undefined
      const rejoined = (l: LogLine): boolean => String(l.to).split(',').includes(String(followers[0]))
      await waitFor(`ISR expand with broker ${followers[0]}`, () => find(leader, 'ISR expand', rejoined) !== undefined)
      expect(find(leader, 'ISR expand', rejoined)).toMatchObject({ level: 'info', partition: 0 })
    } finally {
      if (stalled !== undefined) process.kill(dev.brokers.find((b) => b.id === stalled)!.pid!, 'SIGCONT')
      await dev.stop()
    }
  }, 90_000)
})
