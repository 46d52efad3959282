/**
 * kill -9 in the middle of log cleaning: a `ringlog serve` process holds a compacted topic
 * (created with `ringlog topics create --config cleanup.policy=compact`) that kafkajs keeps
 * updating while the cleaner rolls through it; the test watches the partition directory and
 * SIGKILLs the broker by PID at the N-th file event of the cleaner's swap protocol (`.cleaned`
 * written, `.swap` renamed, originals retired as `.deleted`), N drawn from the seed, so the kill
 * lands at seeded places of a pass. The restarted broker must hold the same key -> value map as
 * the acknowledged sends (the one send in flight at the kill may or may not be there), read
 * back with kafkajs from offset 0. No test hook in the broker: the kill comes from outside.
 * Run by test/engine/cleaner-kill.test.ts (1 round in npm test) and
 * `npm run test:soak` (this file with 15); RINGLOG_CLEANER_KILLS sets the rounds, RINGLOG_SEED replays.
 */
import { execFile } from 'node:child_process'
import { watch } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { expect } from 'vitest'
import { ringlogArgv } from '../node-argv.js'
import { randomForTest } from '../seed.js'
import { quietKafka, readFromStart } from './compaction-kafkajs.js'
import { startServe, type ServeProcess } from './serve-broker.js'

const run = promisify(execFile)
const SERVE_ARGS = ['--segment-ms', '120']
const KEYS = 30
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs `rounds` produce-kill-restart-verify rounds in `dataDir`; started brokers go into `brokers` (the caller kills them). */
export async function runCleanerKillRounds(dataDir: string, rounds: number, brokers: ServeProcess[]): Promise<void> {
  const random = randomForTest()
  console.log(`cleaner-kill seed=${random.seed} (replay: RINGLOG_SEED=${random.seed})`)
  let broker = await startServe(dataDir, SERVE_ARGS)
  brokers.push(broker)
  await run(process.execPath, ringlogArgv(['topics', 'create', 'kv', '-b', broker.bootstrap, '--partitions', '1',
    '--config', 'cleanup.policy=compact', '--config', 'min.cleanable.dirty.ratio=0.01']), { timeout: 30_000 })
  const partitionDir = join(dataDir, 'kv-0')
  const expected = new Map<string, string>()
  let killedByCleaner = 0
  for (let round = 0; round < rounds; round++) {
    const killAt = 1 + random.int(14)
    let events = 0
    let killed = false
    const current = broker
    const watcher = watch(partitionDir, (_event, name) => {
      if (killed || !name || !/\.(cleaned|swap|deleted)$/.test(name)) return
      if (++events < killAt) return
      killed = true
      if (current.child.pid) process.kill(current.child.pid, 'SIGKILL')
    })
    const producer = quietKafka(broker.bootstrap).producer({ allowAutoTopicCreation: false, retry: { retries: 0 } })
    await producer.connect()
    let inflight = new Map<string, string>()
    for (let send = 0; send < 200 && !killed; send++) {
      const messages = Array.from({ length: 1 + random.int(KEYS) }, () => {
        const key = `key-${random.int(KEYS)}`
        return { key, value: `${key}=r${round}s${send}-${random.int(1e9)}` }
      })
      inflight = new Map(messages.map((m) => [m.key, m.value]))
      try {
        await producer.send({ topic: 'kv', acks: -1, messages })
      } catch {
        break // the broker is gone: this send may or may not have been stored
      }
      for (const [key, value] of inflight) expected.set(key, value)
      inflight = new Map()
      await sleep(random.int(60))
    }
    // Not killed by a cleaner event within the sends: kill now (counted, so a run that never
    // hits the cleaner shows in the output).
    if (!killed) {
      killed = true
      await broker.kill()
    } else {
      killedByCleaner++
    }
    watcher.close()
    await producer.disconnect().catch(() => undefined)
    await broker.kill()
    broker = await startServe(dataDir, SERVE_ARGS)
    brokers.push(broker)
    const records = await readFromStart(quietKafka(broker.bootstrap), 'kv', `reader-${round}`)
    for (let i = 1; i < records.length; i++) expect(records[i].offset).toBeGreaterThan(records[i - 1].offset)
    const stored = new Map<string, string>()
    for (const r of records) stored.set(r.key, r.value ?? '<null>')
    for (const [key, value] of stored) {
      const candidates = [expected.get(key), inflight.get(key)]
      expect(candidates, `round ${round}, key ${key}`).toContain(value)
      expected.set(key, value)
    }
    expect([...expected.keys()].filter((key) => !stored.has(key)), `round ${round}: keys lost`).toEqual([])
    console.log(`round ${round}: kill at cleaner event ${killAt} (${events} seen), ${records.length} records for ${stored.size} keys`)
  }
  console.log(`cleaner-kill: ${killedByCleaner} of ${rounds} kills landed inside cleaner work`)
  expect(killedByCleaner).toBeGreaterThan(0)
}
