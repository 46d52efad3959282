import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ProducerIdAllocator } from '../../src/core/producer-ids.js'

const dirs: string[] = []
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })

describe('ProducerIdAllocator', () => {
  it('never reuses an id across reopenings, skipping at most one block', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringlog-pid-'))
    dirs.push(dir)
    const seen = new Set<number>()
    let last = -1
    for (let run = 0; run < 4; run++) {
      const ids = ProducerIdAllocator.open(dir, 10)
      for (let i = 0; i < 7 + run * 5; i++) {
        const id = ids.allocate()
        expect(seen.has(id)).toBe(false)
        expect(id).toBeGreaterThan(last)
        seen.add(id)
        last = id
      }
    }
    // Runs used 7, 12, 17, 22 ids: each restart jumps to the next block boundary.
    expect(last).toBeLessThan(4 * 30)
  })
})
