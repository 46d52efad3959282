import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { childScriptArgv } from '../node-argv.js'
import { open, type KafkaMessage } from '../../src/index.js'
import { randomForTest } from '../seed.js'

const child = fileURLToPath(new URL('./embedded-kill-child.ts', import.meta.url))
// Kill rounds: RINGLOG_KILL_ROUNDS (npm run test:soak raises it) or the quick default.
const ROUNDS = Number(process.env.RINGLOG_KILL_ROUNDS ?? 6)

interface Ack { partition: number; offset: number; value: string }

/** Runs the child, SIGKILLs it `killAfterMs` after it is ready; returns the records it printed as acknowledged. */
function runAndKill(dataDir: string, round: number, killAfterMs: number): Promise<Ack[]> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, childScriptArgv(child, [dataDir, String(round)]), { stdio: ['ignore', 'pipe', 'pipe'] })
    const acks: Ack[] = []
    let buffered = ''
    let stderr = ''
    let killTimer: NodeJS.Timeout | undefined
    const safety = setTimeout(() => proc.kill('SIGKILL'), 60_000)
    proc.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split('\n')
      // A partial last line was not a whole acknowledgement yet.
      buffered = lines.pop()!
      for (const line of lines) {
        if (line === 'ready') {
          killTimer = setTimeout(() => proc.kill('SIGKILL'), killAfterMs)
          continue
        }
        const [tag, p, o, value] = line.split(' ')
        if (tag === 'ack') acks.push({ partition: Number(p), offset: Number(o), value })
      }
    })
    proc.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    proc.on('error', reject)
    proc.on('exit', (_code, signal) => {
      clearTimeout(safety)
      if (killTimer) clearTimeout(killTimer)
      if (signal !== 'SIGKILL' || killTimer === undefined) reject(new Error(`child of round ${round} ended without being killed after ready (signal ${signal}): ${stderr}`))
      else resolve(acks)
    })
  })
}

describe('embedded API under SIGKILL (flush always)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ringlog-embedded-kill-'))
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

  it(`every acknowledged record survives ${ROUNDS} kills at random points`, async () => {
    const acked: Ack[] = []
    const random = randomForTest()
    for (let round = 0; round < ROUNDS; round++) {
      // Some kills land right after start (recovery, first sends), most mid-stream.
      const killAfterMs = round % 4 === 3 ? random.int(20) : 30 + random.int(300)
      acked.push(...await runAndKill(dataDir, round, killAfterMs))
    }
    expect(acked.length).toBeGreaterThan(100)

    const log = await open({ dataDir, flush: 'always', maxWorkers: 2, groupInitialRebalanceDelayMs: 0 })
    try {
      const offsets = await log.admin().fetchTopicOffsets('crash')
      const total = offsets.reduce((sum, o) => sum + Number(o.high), 0)
      const stored = new Map<string, string>()
      const consumer = log.consumer({ groupId: 'verify', heartbeatInterval: 100, maxWaitTimeInMs: 100 })
      await consumer.subscribe({ topic: 'crash', fromBeginning: true })
      await consumer.run({ eachBatch: async ({ batch }) => {
        for (const m of batch.messages as KafkaMessage[]) stored.set(`${batch.partition}/${m.offset}`, m.value!.toString())
      } })
      const deadline = Date.now() + 30_000
      while (stored.size < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      await consumer.disconnect()
      expect(stored.size).toBe(total)
      let missing = 0
      for (const ack of acked) {
        const value = stored.get(`${ack.partition}/${ack.offset}`)
        if (value !== ack.value) missing++
        expect(value, `acknowledged record ${ack.value} at ${ack.partition}/${ack.offset}`).toBe(ack.value)
      }
      expect(missing).toBe(0)
    } finally {
      await log.close()
    }
  }, Math.max(240_000, ROUNDS * 12_000))
})
