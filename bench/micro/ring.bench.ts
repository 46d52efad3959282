// Throughput of main -> worker frames: the SAB ring (src/engine/channel/ring.ts) against postMessage,
// with and without transferring the buffer, measured in the same run.
// Run: npx tsx bench/micro/ring.bench.ts [--runs 5] [--json-only]
// Each run starts a fresh worker, waits until it is ready, then times from the first frame
// sent until the worker reports the last one received (it touches every payload).
// postMessage gets no flow control (its queue grows without bound); the ring applies
// back-pressure through waitForSpace, as the coordinator will.
import { isMainThread, parentPort, workerData, type Worker } from 'node:worker_threads'
import { parseArgs } from 'node:util'
import { Ring } from '../../src/engine/channel/ring.js'
import { spawnWorker, unwrapWorkerData } from '../../src/engine/channel/spawn-worker.js'

type Method = 'ring' | 'postMessage' | 'postMessage+transfer'
interface BenchTask { method: Method; frames: number; sab?: SharedArrayBuffer }
interface Case { size: number; frames: number }

const METHODS: Method[] = ['postMessage', 'postMessage+transfer', 'ring']
const CASES: Case[] = [{ size: 256, frames: 200_000 }, { size: 16 * 1024, frames: 12_000 }]
const RING_CAPACITY = 1 << 20

// ------------------------------------------------------------------ worker side

function runWorker(): void {
  const task = unwrapWorkerData<BenchTask>(workerData)
  const port = parentPort!
  let received = 0
  let touched = 0
  const touch = (payload: Uint8Array): void => {
    touched = (touched + payload[0] + payload[payload.byteLength - 1]) | 0
    received++
  }
  if (task.method === 'ring') {
    const ring = Ring.attach(task.sab!)
    port.postMessage({ ready: true })
    const deadline = Date.now() + 120_000
    while (received < task.frames && Date.now() < deadline) {
      if (ring.waitForDataBlocking({ timeoutMs: 1_000 })) ring.drain(task.frames - received, touch)
    }
    port.postMessage({ done: received, touched, consumerSleeps: ring.stats.sleeps })
    return
  }
  port.on('message', (payload: Uint8Array) => {
    touch(payload)
    if (received === task.frames) port.postMessage({ done: received, touched })
  })
  port.postMessage({ ready: true })
}

// ------------------------------------------------------------------ main side

function waitFor(worker: Worker, key: 'ready' | 'done', timeoutMs: number): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker sent no ${key} within ${timeoutMs} ms`)), timeoutMs)
    const onMessage = (m: Record<string, number>): void => {
      if (!(key in m)) return
      clearTimeout(timer)
      worker.off('message', onMessage)
      resolve(m)
    }
    worker.on('message', onMessage)
    worker.once('error', (e) => { clearTimeout(timer); reject(e) })
  })
}

async function sendAll(method: Method, worker: Worker, ring: Ring | undefined, source: Uint8Array, frames: number): Promise<void> {
  if (method === 'ring') {
    for (let i = 0; i < frames; i++) {
      source[0] = i & 0xff
      while (!ring!.write(source)) {
        if (!(await ring!.waitForSpace(source.byteLength, { timeoutMs: 10_000 }))) throw new Error('ring stalled')
      }
    }
  } else if (method === 'postMessage') {
    for (let i = 0; i < frames; i++) {
      source[0] = i & 0xff
      worker.postMessage(source)
    }
  } else {
    for (let i = 0; i < frames; i++) {
      source[0] = i & 0xff
      const copy = source.slice() // a transfer needs a buffer of its own
      worker.postMessage(copy, [copy.buffer])
    }
  }
}

interface Sample { framesPerSec: number; consumerSleeps: number; producerSleeps: number }

async function measure(method: Method, { size, frames }: Case): Promise<Sample> {
  const ring = method === 'ring' ? Ring.create(RING_CAPACITY) : undefined
  const worker = spawnWorker(import.meta.url, 'ring.bench', { workerData: { method, frames, sab: ring?.sab } satisfies BenchTask })
  try {
    await waitFor(worker, 'ready', 30_000)
    const source = new Uint8Array(size).fill(7)
    const started = performance.now()
    const done = waitFor(worker, 'done', 120_000)
    await sendAll(method, worker, ring, source, frames)
    const result = await done
    const seconds = (performance.now() - started) / 1000
    if (result.done !== frames) throw new Error(`${method}: worker received ${result.done} of ${frames} frames`)
    return { framesPerSec: frames / seconds, consumerSleeps: result.consumerSleeps ?? 0, producerSleeps: ring?.stats.sleeps ?? 0 }
  } finally {
    await worker.terminate()
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

interface Row {
  frameBytes: number
  method: Method
  framesPerRun: number
  runs: number[]
  medianFramesPerSec: number
  medianMBPerSec: number
  ratioToPostMessage: number
  /** Ring only: median sleeps per run of the worker (consumer) and of main (producer). */
  medianConsumerSleeps?: number
  medianProducerSleeps?: number
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, 'json-only': { type: 'boolean', default: false } } })
  const runs = Math.max(1, Number(values.runs))
  const rows: Row[] = []
  for (const benchCase of CASES) {
    const samples = new Map<Method, Sample[]>(METHODS.map((m) => [m, []]))
    // Interleave methods run by run so machine noise hits all of them alike.
    for (let r = 0; r < runs; r++) {
      for (const method of METHODS) samples.get(method)!.push(await measure(method, benchCase))
    }
    const baseline = median(samples.get('postMessage')!.map((s) => s.framesPerSec))
    for (const method of METHODS) {
      const list = samples.get(method)!
      const perSec = median(list.map((s) => s.framesPerSec))
      rows.push({
        frameBytes: benchCase.size,
        method,
        framesPerRun: benchCase.frames,
        runs: list.map((s) => Math.round(s.framesPerSec)),
        medianFramesPerSec: Math.round(perSec),
        medianMBPerSec: Math.round((perSec * benchCase.size) / 1e6),
        ratioToPostMessage: Number((perSec / baseline).toFixed(2)),
        ...(method === 'ring' ? {
          medianConsumerSleeps: median(list.map((s) => s.consumerSleeps)),
          medianProducerSleeps: median(list.map((s) => s.producerSleeps)),
        } : {}),
      })
    }
  }
  if (!values['json-only']) {
    console.log(`ring vs postMessage, main -> worker, median of ${runs} runs (noisy: 2 cores shared with other work)`)
    console.log('frame B | method               |   frames/s |   MB/s | x postMessage | sleeps (worker/main)')
    for (const row of rows) {
      const sleeps = row.method === 'ring' ? `${row.medianConsumerSleeps}/${row.medianProducerSleeps}` : ''
      console.log(`${String(row.frameBytes).padStart(7)} | ${row.method.padEnd(20)} | ${String(row.medianFramesPerSec).padStart(10)} | ${String(row.medianMBPerSec).padStart(6)} | ${row.ratioToPostMessage.toFixed(2).padStart(13)} | ${sleeps}`)
    }
  }
  console.log(JSON.stringify({ bench: 'ring', node: process.version, runs, ringCapacity: RING_CAPACITY, results: rows }))
}

if (isMainThread) await main()
else runWorker()
