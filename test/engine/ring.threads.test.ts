import type { Worker } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import { Ring, RingClosedError } from '../../src/engine/channel/ring.js'
import { pendingAsyncWaits } from '../../src/engine/channel/ring-wait.js'
import { spawnWorker } from '../../src/engine/channel/spawn-worker.js'
import { FrameSource, StreamChecksum } from './fixtures/ring-stream.js'
import type { RingWorkerTask, StreamResult } from './fixtures/ring-worker.js'

const started: Worker[] = []

afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.terminate()))
})

function startWorker(task: RingWorkerTask): Worker {
  const worker = spawnWorker(import.meta.url, 'fixtures/ring-worker', { workerData: task })
  started.push(worker)
  return worker
}

type WorkerMessage = { result?: unknown; error?: { message: string }; reserved?: boolean; waiting?: boolean }

/** The next message of `worker` matching `pick`, failing on a worker error, exit or timeout. */
function nextMessage(worker: Worker, pick: (m: WorkerMessage) => boolean, timeoutMs: number): Promise<WorkerMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no message from the worker within ${timeoutMs} ms`)), timeoutMs)
    const onMessage = (m: WorkerMessage): void => {
      if (m.error) finish(new Error(`worker failed: ${m.error.message}`))
      else if (pick(m)) finish(undefined, m)
    }
    const onError = (e: Error): void => finish(e)
    const onExit = (code: number): void => finish(new Error(`worker exited (${code}) before answering`))
    function finish(error?: Error, message?: WorkerMessage): void {
      clearTimeout(timer)
      worker.off('message', onMessage).off('error', onError).off('exit', onExit)
      if (error) reject(error)
      else resolve(message!)
    }
    worker.on('message', onMessage).on('error', onError).on('exit', onExit)
  })
}

async function resultOf<T>(worker: Worker, timeoutMs = 60_000): Promise<T> {
  return (await nextMessage(worker, (m) => 'result' in m, timeoutMs)).result as T
}

function exited(worker: Worker): Promise<number> {
  return new Promise((resolve) => worker.once('exit', resolve))
}

/** Main-thread producer: async back-pressure only, alternating copy and encode-in-place writes. */
async function produceFromMain(ring: Ring, frames: number, maxLength: number, seed: number): Promise<StreamResult> {
  const source = new FrameSource(seed, maxLength)
  const sum = new StreamChecksum()
  for (let i = 0; i < frames; i++) {
    const payload = source.next()
    let written = i % 2 === 0 ? ring.write(payload) : ring.tryWrite(payload.byteLength, (v) => v.set(payload))
    for (let attempt = 0; !written; attempt++) {
      if (attempt > 10_000 || !(await ring.waitForSpace(payload.byteLength, { timeoutMs: 10_000 }))) {
        throw new Error(`no space for frame ${i}`)
      }
      written = ring.write(payload)
    }
    sum.add(payload)
  }
  return sum.result()
}

/** Main-thread consumer: async waits, batch drains. */
async function consumeOnMain(ring: Ring, frames: number): Promise<StreamResult> {
  const sum = new StreamChecksum()
  const deadline = Date.now() + 60_000
  while (sum.frames < frames) {
    if (Date.now() > deadline) throw new Error(`main consumer timed out after ${sum.frames} frames`)
    if (!(await ring.waitForData({ timeoutMs: 10_000 }))) throw new Error(`no frame within 10 s after ${sum.frames} frames`)
    ring.drain(Math.min(512, frames - sum.frames), (payload) => sum.add(payload))
  }
  return sum.result()
}

describe('Ring between real threads', () => {
  const frames = 200_000

  it('main -> worker: 200k random-size frames arrive intact and in order', async () => {
    const ring = Ring.create(64 * 1024)
    const worker = startWorker({ role: 'consume', sab: ring.sab, frames, timeoutMs: 50_000 })
    const received = resultOf<StreamResult>(worker)
    const sent = await produceFromMain(ring, frames, 2000, 0x5eed1)
    expect(await received).toEqual(sent)
    expect(sent.frames).toBe(frames)
    expect(sent.bytes).toBeGreaterThan(frames * 900)
    expect(pendingAsyncWaits()).toBe(0)
  })

  it('worker -> main: 200k random-size frames arrive intact and in order', async () => {
    const ring = Ring.create(64 * 1024)
    const worker = startWorker({ role: 'produce', sab: ring.sab, frames, maxLength: 2000, seed: 0x5eed2, timeoutMs: 50_000 })
    const sent = resultOf<StreamResult>(worker)
    const received = await consumeOnMain(ring, frames)
    expect(received).toEqual(await sent)
    expect(received.frames).toBe(frames)
    expect(pendingAsyncWaits()).toBe(0)
  })

  it('worker -> worker on a tiny ring: both sides sleep and wake constantly without losing a wake-up', async () => {
    const ring = Ring.create(256)
    const count = 40_000
    const consumer = startWorker({ role: 'consume', sab: ring.sab, frames: count, timeoutMs: 50_000 })
    const producer = startWorker({ role: 'produce', sab: ring.sab, frames: count, maxLength: 200, seed: 0x5eed3, timeoutMs: 50_000 })
    const [sent, received] = await Promise.all([resultOf<StreamResult>(producer), resultOf<StreamResult>(consumer)])
    expect(received).toEqual(sent)
    expect(received.frames).toBe(count)
  })
  it('worker -> worker with one frame in flight: every commit and release must wake the sleeping peer', async () => {
    // Frames of 130..240 bytes in a 256-byte ring: a single lost wake-up deadlocks both
    // sides, and the 5 s waits in the fixture turn that into a failure.
    const ring = Ring.create(256)
    const count = 15_000
    const consumer = startWorker({ role: 'consume', sab: ring.sab, frames: count, timeoutMs: 50_000 })
    const producer = startWorker({ role: 'produce', sab: ring.sab, frames: count, minLength: 130, maxLength: 240, seed: 0x5eed4, timeoutMs: 50_000 })
    const [sent, received] = await Promise.all([resultOf<StreamResult>(producer), resultOf<StreamResult>(consumer)])
    expect(received).toEqual(sent)
    expect(received.frames).toBe(count)
  })
})

describe('Ring when a worker dies', () => {
  for (const how of ['exit', 'hang'] as const) {
    it(`a frame reserved but never committed is never read (worker ${how === 'exit' ? 'calls process.exit' : 'is terminated'})`, async () => {
      const ring = Ring.create(1024)
      const worker = startWorker({ role: 'die-mid-frame', sab: ring.sab, completeFrames: 3, how })
      worker.once('exit', () => ring.close()) // what the supervisor of a partition worker does
      const gone = exited(worker)
      await nextMessage(worker, (m) => m.reserved === true, 30_000)
      if (how === 'hang') await worker.terminate()
      await gone

      const seen: number[] = []
      for (let i = 0; i < 10; i++) {
        let ready: boolean
        try {
          ready = await ring.waitForData({ timeoutMs: 10_000 })
        } catch (error) {
          expect(error).toBeInstanceOf(RingClosedError)
          break
        }
        expect(ready).toBe(true)
        const frame = ring.read()!
        expect(frame.byteLength).toBe(16)
        seen.push(frame[0])
        ring.release()
      }
      expect(seen).toEqual([1, 2, 3])
      expect(ring.read()).toBeNull()
      await expect(ring.waitForData({ timeoutMs: 10_000 })).rejects.toBeInstanceOf(RingClosedError)
    })
  }

  it('a main-thread waiter already asleep wakes with RingClosedError when the dead producer is marked closed', async () => {
    const ring = Ring.create(1024)
    const worker = startWorker({ role: 'die-mid-frame', sab: ring.sab, completeFrames: 0, how: 'hang' })
    worker.once('exit', () => ring.close())
    const waiting = ring.waitForData({ timeoutMs: 20_000 })
    await nextMessage(worker, (m) => m.reserved === true, 30_000)
    expect(pendingAsyncWaits()).toBe(1)
    await worker.terminate()
    await expect(waiting).rejects.toBeInstanceOf(RingClosedError)
    expect(ring.read()).toBeNull()
    expect(pendingAsyncWaits()).toBe(0)
  })

  it('a main-thread producer waiting for space wakes with RingClosedError when the consumer is gone', async () => {
    const ring = Ring.create(256)
    while (ring.write(new Uint8Array(40)));
    const waiting = ring.waitForSpace(40, { timeoutMs: 20_000 })
    await new Promise((resolve) => setTimeout(resolve, 20))
    ring.close()
    await expect(waiting).rejects.toBeInstanceOf(RingClosedError)
  })

  for (const side of ['consumer', 'producer'] as const) {
    it(`a worker blocked as ${side} wakes with RingClosedError when main closes the ring`, async () => {
      const ring = Ring.create(256)
      if (side === 'producer') while (ring.write(new Uint8Array(40)));
      const worker = startWorker({ role: 'wait-until-closed', sab: ring.sab, side })
      const result = resultOf<{ closed: boolean; error?: { code: number } }>(worker, 30_000)
      await nextMessage(worker, (m) => m.waiting === true, 30_000)
      await new Promise((resolve) => setTimeout(resolve, 30)) // let it fall asleep (the test holds either way)
      ring.close()
      const outcome = await result
      expect(outcome.closed).toBe(true)
      expect(outcome.error?.code).toBe(new RingClosedError().code)
    })
  }
})
