import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { childScriptArgv } from '../node-argv.js'
import fc from 'fast-check'
import { Ring, RingClosedError } from '../../src/engine/channel/ring.js'
import { pendingAsyncWaits } from '../../src/engine/channel/ring-wait.js'
import { RecordTooLargeError } from '../../src/errors.js'

/** Deterministic bytes so a misplaced or torn frame shows up as a content mismatch. */
function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

function frameBytes(length: number): number {
  return 4 + ((length + 3) & ~3)
}

/** Moves head and tail of an empty ring to `offset` (a multiple of 4 below the capacity). */
function ringAt(capacity: number, offset: number): Ring {
  const ring = Ring.create(capacity)
  if (offset > 0) {
    expect(ring.write(new Uint8Array(offset - 4))).toBe(true)
    expect(ring.read()?.byteLength).toBe(offset - 4)
    ring.release()
  }
  return ring
}

/** Writes a frame into a ring the test has fully drained; it must fit after at most one consumer pass. */
function writeIntoEmpty(ring: Ring, payload: Uint8Array): void {
  if (ring.write(payload)) return
  // The frame did not fit on either side of the indices: the producer published a lone wrap marker.
  expect(ring.read()).toBeNull()
  expect(ring.write(payload)).toBe(true)
}

describe('Ring basics', () => {
  it('round-trips frames, including empty ones, and reports its limits', () => {
    const ring = Ring.create(100)
    expect(ring.capacity).toBe(100)
    expect(ring.maxFrameLength).toBe(92)
    expect(ring.read()).toBeNull()
    expect(ring.write(new Uint8Array(0))).toBe(true)
    expect(ring.write(pattern(5, 1))).toBe(true)
    expect(ring.read()?.byteLength).toBe(0)
    expect(ring.read()).toEqual(pattern(5, 1))
    expect(ring.read()).toBeNull()
    ring.release()
  })

  it('rounds the capacity up to a multiple of 4 and validates attach', () => {
    expect(Ring.create(61).capacity).toBe(64)
    expect(() => Ring.create(8)).toThrow(RangeError)
    expect(() => Ring.create(1.5 * 64)).not.toThrow()
    expect(() => Ring.attach(new SharedArrayBuffer(1024))).toThrow(TypeError)
    const ring = Ring.create(256)
    const other = Ring.attach(ring.sab)
    expect(other.capacity).toBe(256)
    ring.write(pattern(10, 7))
    expect(other.read()).toEqual(pattern(10, 7))
  })

  it('rejects a frame larger than the ring with RecordTooLargeError', () => {
    const ring = Ring.create(64)
    expect(() => ring.write(new Uint8Array(57))).toThrow(RecordTooLargeError)
    expect(() => ring.tryReserve(1000)).toThrow(/exceeds this ring's largest frame \(56 bytes/)
    expect(ring.write(new Uint8Array(56))).toBe(true)
    expect(ring.read()?.byteLength).toBe(56)
  })

  it('reserve/commit encodes in place, may commit fewer bytes, and abandon leaves no trace', () => {
    const ring = Ring.create(128)
    const view = ring.tryReserve(40)
    expect(view).not.toBeNull()
    view!.set(pattern(40, 3))
    expect(() => ring.tryReserve(4)).toThrow(/open reservation/)
    expect(ring.read()).toBeNull()
    ring.commit(13)
    expect(ring.read()).toEqual(pattern(40, 3).subarray(0, 13))

    ring.tryReserve(20)!.fill(0xee)
    ring.abandon()
    expect(ring.read()).toBeNull()
    expect(() => ring.commit()).toThrow(/without a reservation/)

    expect(() => ring.tryWrite(8, () => { throw new Error('encode failed') })).toThrow('encode failed')
    expect(ring.read()).toBeNull()
    expect(ring.tryWrite(8, (v) => v.set(pattern(8, 9)))).toBe(true)
    expect(ring.read()).toEqual(pattern(8, 9))
  })

  it('keeps views valid until release(), then lets the producer reuse the space', () => {
    const ring = Ring.create(64)
    expect(ring.write(pattern(20, 1))).toBe(true)
    expect(ring.write(pattern(20, 2))).toBe(true)
    const first = ring.read()!
    const second = ring.read()!
    expect(ring.write(pattern(20, 3))).toBe(false)
    expect(first).toEqual(pattern(20, 1))
    expect(second).toEqual(pattern(20, 2))
    ring.release()
    expect(ring.write(pattern(20, 3))).toBe(true)
    expect(ring.read()).toEqual(pattern(20, 3))
  })

  it('drain() hands out up to max frames and releases them in one step', () => {
    const ring = Ring.create(256)
    for (let i = 0; i < 5; i++) expect(ring.write(pattern(i * 7, i))).toBe(true)
    const seen: Uint8Array[] = []
    expect(ring.drain(3, (p) => seen.push(p.slice()))).toBe(3)
    expect(ring.drain(10, (p) => seen.push(p.slice()))).toBe(2)
    expect(ring.drain(10, () => {})).toBe(0)
    expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => pattern(i * 7, i)))
  })

  it('refuses blocking waits on the main thread', () => {
    const ring = Ring.create(64)
    expect(() => ring.waitForDataBlocking({ timeoutMs: 1 })).toThrow(/only allowed in worker threads/)
    expect(() => ring.waitForSpaceBlocking(4, { timeoutMs: 1 })).toThrow(/only allowed in worker threads/)
    expect(() => ring.writeBlocking(new Uint8Array(4))).toThrow(/only allowed in worker threads/)
  })
})

describe('Ring wrap-around', () => {
  const capacity = 64

  it('carries every frame size across the end from every start offset', () => {
    let frames = 0
    for (let offset = 0; offset < capacity; offset += 4) {
      for (let length = 0; length <= capacity - 8; length++) {
        const ring = ringAt(capacity, offset)
        // Enough frames to cross the end at least twice, reading each right after writing.
        const rounds = Math.ceil((2 * capacity) / frameBytes(length)) + 2
        for (let i = 0; i < rounds; i++) {
          const payload = pattern(length, offset * 1000 + length * 10 + i)
          writeIntoEmpty(ring, payload)
          expect(ring.read()).toEqual(payload)
          ring.release()
          expect(ring.read()).toBeNull()
          frames++
        }
      }
    }
    expect(frames).toBeGreaterThan(16 * 57 * 3)
  })

  it('fills a ring from every start offset with mixed sizes and reads back the exact bytes', () => {
    for (let offset = 0; offset < capacity; offset += 4) {
      const ring = ringAt(capacity, offset)
      const queue: Uint8Array[] = []
      let seed = offset + 1
      for (let step = 0; step < 300; step++) {
        seed = (seed * 1103515245 + 12345) >>> 0
        const length = seed % 30
        const payload = pattern(length, step + offset * 7919)
        const writeFirst = (seed >>> 8) % 3 !== 0
        if (writeFirst && ring.write(payload)) {
          queue.push(payload)
          continue
        }
        const got = ring.read()
        if (queue.length === 0) {
          expect(got).toBeNull()
        } else {
          expect(got).toEqual(queue.shift())
        }
        ring.release()
      }
      for (let got = ring.read(); got !== null; got = ring.read()) expect(got).toEqual(queue.shift())
      expect(queue).toHaveLength(0)
    }
  })

  it('fits floor((capacity - 4) / frame) frames into an empty ring at offset 0', () => {
    for (const length of [0, 1, 4, 12, 13, 28, 56]) {
      const ring = Ring.create(capacity)
      let count = 0
      while (count < 100 && ring.write(pattern(length, count))) count++
      expect(count).toBe(Math.floor((capacity - 4) / frameBytes(length)))
      for (let i = 0; i < count; i++) expect(ring.read()).toEqual(pattern(length, i))
      expect(ring.read()).toBeNull()
    }
  })

  it('matches a FIFO model under random writes, reads, held views and drains', () => {
    type Op = { kind: 'write'; length: number } | { kind: 'read' } | { kind: 'release' } | { kind: 'drain'; max: number }
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), length: fc.integer({ min: 0, max: 88 }) }),
      fc.record({ kind: fc.constant('read' as const) }),
      fc.record({ kind: fc.constant('release' as const) }),
      fc.record({ kind: fc.constant('drain' as const), max: fc.integer({ min: 1, max: 4 }) }),
    )
    fc.assert(fc.property(fc.integer({ min: 24, max: 96 }), fc.array(op, { maxLength: 200 }), (capacityBytes, ops) => {
      const ring = Ring.create(capacityBytes)
      const pending: Uint8Array[] = []
      const held: Array<{ view: Uint8Array; expected: Uint8Array }> = []
      let counter = 0
      for (const o of ops) {
        if (o.kind === 'write') {
          const length = o.length % (ring.maxFrameLength + 1)
          const payload = pattern(length, ++counter)
          if (pending.length + held.length === 0) {
            writeIntoEmpty(ring, payload)
            pending.push(payload)
          } else if (ring.write(payload)) {
            pending.push(payload)
          }
        } else if (o.kind === 'read') {
          const view = ring.read()
          if (pending.length === 0) expect(view).toBeNull()
          else held.push({ view: view!, expected: pending.shift()! })
        } else if (o.kind === 'release') {
          // Views held so far must be untouched by every write since they were read.
          for (const h of held) expect(h.view).toEqual(h.expected)
          held.length = 0
          ring.release()
        } else {
          for (const h of held) expect(h.view).toEqual(h.expected)
          held.length = 0
          const expectedCount = Math.min(o.max, pending.length)
          expect(ring.drain(o.max, (p) => expect(p).toEqual(pending.shift()))).toBe(expectedCount)
        }
      }
      for (const h of held) expect(h.view).toEqual(h.expected)
    }), { numRuns: 400, seed: 20240611 })
  })
})

describe('Ring back-pressure and close (one thread)', () => {
  it('tryWrite returns false when full; writeAsync waits and resumes after reads', async () => {
    const ring = Ring.create(64)
    let written = 0
    while (written < 20 && ring.write(pattern(12, written))) written++
    expect(written).toBe(3)
    expect(ring.tryWrite(12, () => { throw new Error('must not be called when full') })).toBe(false)

    let settled = false
    const pendingWrite = ring.writeAsync(pattern(12, 99), { timeoutMs: 10_000 }).then((ok) => { settled = true; return ok })
    await new Promise((resolve) => setImmediate(resolve))
    expect(settled).toBe(false)
    expect(pendingAsyncWaits()).toBe(1)

    expect(ring.read()).toEqual(pattern(12, 0))
    ring.release()
    expect(await pendingWrite).toBe(true)
    expect(pendingAsyncWaits()).toBe(0)
    for (let i = 1; i < 3; i++) expect(ring.read()).toEqual(pattern(12, i))
    expect(ring.read()).toEqual(pattern(12, 99))
  })

  it('waitForSpace and waitForData time out with false', async () => {
    const ring = Ring.create(64)
    expect(await ring.waitForData({ timeoutMs: 20 })).toBe(false)
    while (ring.write(pattern(20, 0)));
    expect(await ring.waitForSpace(20, { timeoutMs: 20 })).toBe(false)
    expect(await ring.writeAsync(pattern(20, 0), { timeoutMs: 20 })).toBe(false)
    expect(pendingAsyncWaits()).toBe(0)
  })

  it('a pending waitForData wakes when a frame is committed and when the ring closes', async () => {
    const ring = Ring.create(128)
    const waiting = ring.waitForData({ timeoutMs: 10_000 })
    await new Promise((resolve) => setImmediate(resolve))
    ring.write(pattern(9, 1))
    expect(await waiting).toBe(true)
    expect(ring.read()).toEqual(pattern(9, 1))
    ring.release()

    const closing = ring.waitForData({ timeoutMs: 10_000 })
    await new Promise((resolve) => setImmediate(resolve))
    ring.close()
    await expect(closing).rejects.toBeInstanceOf(RingClosedError)
    expect(pendingAsyncWaits()).toBe(0)
  })

  it('delivers frames committed before close, then reports closed; producers get an error', async () => {
    const ring = Ring.create(128)
    ring.write(pattern(3, 1))
    ring.write(pattern(4, 2))
    ring.close()
    expect(ring.closed).toBe(true)
    expect(() => ring.write(pattern(1, 0))).toThrow(RingClosedError)
    await expect(ring.waitForSpace(4)).rejects.toBeInstanceOf(RingClosedError)
    expect(await ring.waitForData()).toBe(true)
    expect(ring.read()).toEqual(pattern(3, 1))
    expect(await ring.waitForData()).toBe(true)
    expect(ring.read()).toEqual(pattern(4, 2))
    await expect(ring.waitForData()).rejects.toBeInstanceOf(RingClosedError)
    expect(ring.read()).toBeNull()
  })

  it('a commit after close fails instead of publishing', () => {
    const ring = Ring.create(128)
    ring.tryReserve(8)!.fill(1)
    ring.close()
    expect(() => ring.commit()).toThrow(RingClosedError)
    expect(ring.read()).toBeNull()
  })
})

describe('Ring async waits keep the event loop alive', () => {
  it('a process whose only pending work is a ring wait does not exit early', () => {
    const script = fileURLToPath(new URL('./fixtures/ring-keep-alive.ts', import.meta.url))
    const child = spawnSync(process.execPath, childScriptArgv(script, []), { encoding: 'utf8', timeout: 30_000 })
    expect(child.stderr).toBe('')
    expect(child.status).toBe(0)
    expect(JSON.parse(child.stdout.trim())).toEqual({ data: false, space: false, pending: 0 })
  })
})
