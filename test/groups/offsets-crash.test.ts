import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { childScriptArgv } from '../node-argv.js'
import { OffsetsStore } from '../../src/groups/offsets-store.js'
import { randomForTest } from '../seed.js'

const child = fileURLToPath(new URL('./fixtures/commit-child.ts', import.meta.url))
// Kill rounds: RINGLOG_KILL_ROUNDS (npm run test:soak raises it) or the quick default.
const rounds = Number(process.env.RINGLOG_KILL_ROUNDS ?? 10)

/** Runs the child until a random moment after it is ready, SIGKILLs it, returns the highest ack per partition. */
function runAndKill(dir: string, killAfterMs: number): Promise<Map<number, number>> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, childScriptArgv(child, [dir]), { stdio: ['ignore', 'pipe', 'pipe'] })
    const acked = new Map<number, number>()
    let buffered = ''
    let stderr = ''
    let timer: NodeJS.Timeout | undefined
    const safety = setTimeout(() => proc.kill('SIGKILL'), 30_000)
    proc.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop()!
      for (const line of lines) {
        if (line === 'ready') { timer = setTimeout(() => proc.kill('SIGKILL'), killAfterMs); continue }
        const [, p, o] = line.split(' ')
        acked.set(Number(p), Math.max(acked.get(Number(p)) ?? -1, Number(o)))
      }
    })
    proc.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    proc.on('error', reject)
    proc.on('exit', (_code, signal) => {
      clearTimeout(safety)
      if (timer) clearTimeout(timer)
      // A partial last line was never a whole acknowledgement: ignore it.
      if (signal !== 'SIGKILL') reject(new Error(`child exited without being killed: ${stderr}`))
      else resolve(acked)
    })
  })
}

describe('OffsetsStore crash safety', () => {
  const dirs: string[] = []
  afterAll(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })

  it(`keeps every acknowledged commit across ${rounds} SIGKILLs`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ringlog-offsets-crash-'))
    dirs.push(dir)
    let totalAcks = 0
    const random = randomForTest()
    for (let round = 0; round < rounds; round++) {
      const acked = await runAndKill(dir, 20 + random.int(250))
      const store = await OffsetsStore.open({ dir, compactBytes: 8 * 1024 })
      try {
        for (const [partition, offset] of acked) {
          totalAcks++
          const stored = store.get('crash', 't', partition)
          expect(stored, `round ${round} partition ${partition}`).toBeDefined()
          expect(stored!.offset, `round ${round} partition ${partition}`).toBeGreaterThanOrEqual(offset)
          expect(stored!.metadata).toBe(`m${stored!.offset}`)
        }
      } finally {
        await store.close()
      }
    }
    // The test proves nothing if the child never got a commit acknowledged.
    expect(totalAcks).toBeGreaterThan(0)
  }, Math.max(120_000, rounds * 12_000))
})
