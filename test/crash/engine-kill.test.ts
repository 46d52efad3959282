import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { childScriptArgv } from '../node-argv.js'
import { createLogEngine } from '../../src/engine/main/router.js'
import { readAllRecords, tempDir } from '../engine/helpers.js'
import { crashRecordValue } from './engine-kill-values.js'
import { randomForTest } from '../seed.js'

const CHILD = fileURLToPath(new URL('./engine-kill-child.ts', import.meta.url))
// Kill rounds: RINGLOG_KILL_ROUNDS (npm run test:soak raises it) or the quick default.
const ROUNDS = Number(process.env.RINGLOG_KILL_ROUNDS ?? 6)
const dataDir = tempDir('ringlog-engine-kill-')
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

interface Ack { baseOffset: number; count: number; tag: string }

/** Runs the child until it has acknowledged `ackTarget` calls (or 15 s pass), then SIGKILLs it. */
function runAndKill(round: number, ackTarget: number, extraDelayMs: number): Promise<Ack[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, childScriptArgv(CHILD, [dataDir, String(round)]), { stdio: ['ignore', 'pipe', 'pipe'] })
    const acks: Ack[] = []
    let stderr = ''
    let killed = false
    const kill = (): void => {
      if (killed) return
      killed = true
      child.kill('SIGKILL')
    }
    const guard = setTimeout(kill, 15_000)
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [word, offset, count, tag] = line.split(' ')
      if (word !== 'ACK') return
      acks.push({ baseOffset: Number(offset), count: Number(count), tag })
      if (acks.length === ackTarget) setTimeout(kill, extraDelayMs)
    })
    child.on('exit', (code, signal) => {
      clearTimeout(guard)
      if (signal !== 'SIGKILL') reject(new Error(`child ended with ${code ?? signal} before the kill: ${stderr}`))
      else resolve(acks)
    })
    child.on('error', reject)
  })
}

describe('engine crash safety (kill -9)', () => {
  it(`keeps every acknowledged record, byte for byte, across ${ROUNDS} SIGKILLs at random points`, async () => {
    const acked = new Map<number, string>()
    const random = randomForTest()
    for (let round = 0; round < ROUNDS; round++) {
      const acks = await runAndKill(round, 1 + random.int(60), random.int(20))
      expect(acks.length).toBeGreaterThan(0)
      for (const ack of acks) for (let i = 0; i < ack.count; i++) acked.set(ack.baseOffset + i, crashRecordValue(ack.tag, i))

      const engine = createLogEngine({ dataDir, flush: 'always', maxWorkers: 1 })
      try {
        await engine.openPartition('crash', 0)
        const stored = new Map((await readAllRecords(engine, 'crash', 0)).map((r) => [r.offset, r.value?.toString()]))
        for (const [offset, value] of acked) expect(stored.get(offset), `offset ${offset} after round ${round}`).toBe(value)
        const offsets = [...stored.keys()]
        expect(offsets).toEqual(offsets.map((_, i) => i))
      } finally {
        await engine.close()
      }
    }
  }, Math.max(240_000, ROUNDS * 12_000))
})
