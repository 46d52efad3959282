/**
 * The naive baseline: copy fixed-size records into batch-size buffers (default 16 KiB) and
 * `writeSync` each full buffer to one file, optionally fdatasync'ing as the flush policy says.
 * No framing, CRC, offsets, threads or network: it is the floor of what appending costs
 * on this disk, and the reference the engine and broker scenarios are measured against in
 * the same run (same record size, same durability).
 *
 * Params used: recordSize, batchSize, flush ('always' = fdatasync every 1 MiB written,
 * n ms = fdatasync when n ms passed since the last one, 'never'), rate (paced runs also
 * honour lingerMs: a partial buffer is written once its oldest record waited that long),
 * durationMs, records. Others (partitions, acks, compression, mode) do not apply.
 * Latency, recorded per buffer write: from when the buffer's oldest record was due (paced
 * runs, so a late writer is charged for its lateness) or copied (unpaced runs) until its
 * write, and the fdatasync it triggered, returned.
 */
import { Buffer } from 'node:buffer'
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { RecordableHistogram } from 'node:perf_hooks'
import { createLatencyHistogram, recordLatencyNs } from '../histogram.js'
import { DEFAULT_BENCH_PARAMS, parseBenchParams, type BenchParamInput, type BenchParams, type RunContext, type RunOutcome, type Scenario } from '../scenario.js'

const SYNC_EVERY_BYTES = 1 << 20

export interface FileAppendState {
  dir: string
  /** Write here and keep the file (to read it back); default a file in `dir`, removed after the run. */
  keepPath?: string
}

export interface FileAppendOptions {
  /** Defaults to "file-append" plus the durability, e.g. "file-append durable". */
  name?: string
  /** Parent of the scenario's temp dir, default os.tmpdir(). */
  dir?: string
}

function isDurable(params: Readonly<BenchParams>): boolean {
  return params.flush !== 'never'
}

async function appendRecords(context: RunContext, state: FileAppendState): Promise<RunOutcome> {
  const { recordSize, batchSize, flush, rate, lingerMs } = context.params
  const perBuffer = Math.max(1, Math.floor(batchSize / recordSize))
  const buffer = Buffer.alloc(perBuffer * recordSize)
  const record = Buffer.alloc(recordSize, 0x61)
  const path = state.keepPath ?? join(state.dir, `append-${process.pid}-${context.repetition}.log`)
  const fd = openSync(path, 'w')
  const intervalNs = rate === null ? 0 : 1e9 / rate
  let records = 0
  let inBuffer = 0
  let oldestNs = 0n
  let unsyncedBytes = 0
  let lastSyncNs = process.hrtime.bigint()

  const writeBuffer = (): void => {
    const bytes = inBuffer * recordSize
    writeSync(fd, buffer, 0, bytes)
    unsyncedBytes += bytes
    const now = process.hrtime.bigint()
    const syncDue = flush === 'always' ? unsyncedBytes >= SYNC_EVERY_BYTES : typeof flush === 'number' && Number(now - lastSyncNs) >= flush * 1e6
    if (syncDue) {
      fdatasyncSync(fd)
      unsyncedBytes = 0
      lastSyncNs = process.hrtime.bigint()
    }
    recordLatencyNs(context.latency, process.hrtime.bigint() - oldestNs)
    context.progress(inBuffer, bytes)
    inBuffer = 0
  }

  try {
    while (context.shouldContinue(records)) {
      // Paced: copy only records that are due, then sleep until the next one is.
      let due = perBuffer - inBuffer
      if (rate !== null) {
        const elapsedNs = Number(process.hrtime.bigint() - context.startNs)
        const dueTotal = Math.floor(elapsedNs / intervalNs) + 1
        due = Math.min(due, dueTotal - records)
        if (due <= 0) {
          // A partial buffer goes out once its oldest record waited linger.ms, as a producer's would.
          const lingerLeftMs = inBuffer > 0 ? lingerMs - Number(process.hrtime.bigint() - oldestNs) / 1e6 : Infinity
          if (lingerLeftMs <= 0) {
            writeBuffer()
            continue
          }
          await sleep(Math.max(1, Math.min(lingerLeftMs, (records * intervalNs - elapsedNs) / 1e6)))
          continue
        }
      }
      if (context.params.records !== null) due = Math.min(due, context.params.records - records)
      for (let i = 0; i < due; i++) {
        if (inBuffer === 0) oldestNs = rate === null ? process.hrtime.bigint() : context.startNs + BigInt(Math.round(records * intervalNs))
        record.copy(buffer, inBuffer * recordSize)
        inBuffer++
        records++
      }
      if (inBuffer === perBuffer) writeBuffer()
    }
    if (inBuffer > 0) writeBuffer()
    if (isDurable(context.params) && unsyncedBytes > 0) fdatasyncSync(fd)
  } finally {
    closeSync(fd)
    // Each repetition starts from an empty file and the disk does not fill up over a suite.
    if (state.keepPath === undefined) unlinkSync(path)
  }
  return { records, bytes: records * recordSize }
}

/** The file-append baseline with `params` over defaults (100-byte records, 16 KiB buffers, not durable). */
export function fileAppendScenario(params: BenchParamInput = {}, options: FileAppendOptions = {}): Scenario<FileAppendState> {
  const resolved = parseBenchParams(params, DEFAULT_BENCH_PARAMS)
  const name = options.name ?? `file-append ${isDurable(resolved) ? 'durable' : 'page-cache'}`
  const scenario: Scenario<FileAppendState> = {
    name,
    params: resolved,
    cpuOwner: 'broker',
    setup: () => ({ dir: mkdtempSync(join(options.dir ?? tmpdir(), 'ringlog-bench-')) }),
    run: appendRecords,
    teardown: (state) => rmSync(state.dir, { recursive: true, force: true }),
    // Its own reference: an A/A run whose pair ratios show the noise floor of the machine.
    reference: () => fileAppendScenario(params, { name: `${name} (reference)`, dir: options.dir }),
  }
  return scenario
}

/**
 * The reference for another scenario: file-append with the same record size, batch size,
 * durability and length (records or duration), so a same-run ratio compares like with like.
 */
export function fileAppendReferenceFor(subject: Readonly<BenchParams>, options: FileAppendOptions = {}): Scenario<FileAppendState> {
  const { recordSize, batchSize, flush, durationMs, records } = subject
  const durable = flush !== 'never'
  return fileAppendScenario({ recordSize, batchSize, flush: durable ? 'always' : 'never', durationMs, records }, { name: options.name ?? `file-append ${durable ? 'durable' : 'page-cache'} (reference)`, dir: options.dir })
}

export interface FileAppendRun extends RunOutcome {
  seconds: number
  /** Per buffer write, as in the scenario. */
  latency: RecordableHistogram
}

/**
 * One run of the baseline outside the scenario runner (the bench scripts' baseline rows): the
 * same loop, until `params.records` records or `params.durationMs` (as the runner stops it).
 */
export async function runFileAppend(params: BenchParamInput, options: FileAppendOptions & { keepPath?: string } = {}): Promise<FileAppendRun> {
  const resolved = parseBenchParams(params, DEFAULT_BENCH_PARAMS)
  const dir = mkdtempSync(join(options.dir ?? tmpdir(), 'ringlog-bench-'))
  const latency = createLatencyHistogram()
  const deadlineNs = resolved.durationMs === null ? null : BigInt(Math.round(resolved.durationMs * 1e6))
  const startNs = process.hrtime.bigint()
  const context: RunContext = {
    params: resolved,
    latency,
    progress: () => undefined,
    shouldContinue: (done) => (resolved.records === null || done < resolved.records) && (deadlineNs === null || process.hrtime.bigint() - startNs < deadlineNs),
    startNs,
    repetition: 0,
  }
  try {
    const outcome = await appendRecords(context, { dir, keepPath: options.keepPath })
    return { ...outcome, seconds: Number(process.hrtime.bigint() - startNs) / 1e9, latency }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
