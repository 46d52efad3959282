/**
 * Partition worker entry (one thread, the only writer of the partitions it owns). Started by
 * the router's worker channel with `spawnWorker(import.meta.url, '../worker/partition-worker', ...)`.
 *
 * Loop: drain the request ring in bursts (frames are handled in ring order), then yield one
 * macrotask so fdatasync completions and timers run (group commit is pipelined: intake never
 * waits for a flush), seal embedded-producer batches whose linger has passed, and sleep on the
 * ring (Atomics.waitAsync with a ref'd handle) when there is nothing to do.
 */
import { Buffer } from 'node:buffer'
import { parentPort, workerData } from 'node:worker_threads'
import { setImmediate as yieldMacrotask } from 'node:timers/promises'
import { toErrorPayload, UnknownTopicOrPartitionError } from '../../errors.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import {
  appendReplySize, bodyOf, encodeAppendReply, FRAME_HEAD_BYTES, FrameKind, NO_REPLY, packr, readHead, writeHead,
  type AppendReply, type ControlRequest, type FrameHead,
} from '../channel/frames.js'
import { PartitionRuntime, type ReplyTarget } from './partition-runtime.js'
import { CleanerPacer } from '../../storage/log-cleaner.js'
import { Ring } from '../channel/ring.js'
import { SharedPartitionState } from '../channel/shared-state.js'
import { readStagedAppend } from '../channel/frames.js'
import { unwrapWorkerData } from '../channel/spawn-worker.js'
import type { WorkerInit } from '../main/worker-channel.js'

const init = unwrapWorkerData<WorkerInit>(workerData)
const requests = Ring.attach(init.requestRing)
// Replies are committed in bursts (after a write, after a group commit): one wake per burst.
const replies = Ring.attach(init.replyRing, { coalesceWakes: true })
const shared = new SharedPartitionState(init.sharedState, init.slots)
const partitions = new Map<number, PartitionRuntime>()
const DRAIN_MAX = 256
/** Set once a shutdown request arrives: the loop ends after it has replied. */
let shutdown: Promise<void> | undefined

function writeReply(length: number, fill: (view: Uint8Array) => void): void {
  for (;;) {
    const view = replies.tryReserve(length)
    if (view !== null) {
      fill(view)
      replies.commit(length)
      return
    }
    // The router drains replies whenever calls are pending, so this wait is short.
    replies.waitForSpaceBlocking(length)
  }
}

const replyTarget: ReplyTarget = {
  append(reply: AppendReply): void {
    if (reply.requestId === NO_REPLY) return
    writeReply(appendReplySize(reply.errorMessage), (view) => encodeAppendReply(view, reply))
  },
}

function replyControl(requestId: number, value: unknown): void {
  const body = packr.pack(value ?? null)
  writeReply(FRAME_HEAD_BYTES + body.length, (view) => {
    writeHead(view, FrameKind.ControlReply, 0, 0, requestId, 0)
    view.set(body, FRAME_HEAD_BYTES)
  })
}

function replyControlError(requestId: number, error: unknown): void {
  const body = packr.pack(toErrorPayload(error))
  writeReply(FRAME_HEAD_BYTES + body.length, (view) => {
    writeHead(view, FrameKind.ControlError, 0, 0, requestId, 0)
    view.set(body, FRAME_HEAD_BYTES)
  })
}

function appendError(head: FrameHead, code: number, message: string): void {
  replyTarget.append({ requestId: head.requestId, errorCode: code, errorMessage: message, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 })
}

/**
 * flush 'always': false between an AppendRecords frame and the router's next TurnEnd, i.e.
 * while sends of the router's current event-loop turn may still be on their way.
 */
let routerTurnEnded = true

function handleFrame(frame: Uint8Array): void {
  const head = readHead(frame)
  if (head.kind === FrameKind.TurnEnd) {
    routerTurnEnded = true
    return
  }
  if (head.kind === FrameKind.AppendRecords && init.flush === 'always') routerTurnEnded = false
  const buf = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength)
  if (head.kind === FrameKind.AppendBatches || head.kind === FrameKind.AppendRecords || head.kind === FrameKind.AppendAsFollower || head.kind === FrameKind.AppendAsFollowerStaged) {
    const runtime = partitions.get(head.slot)
    if (!runtime) {
      appendError(head, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `no partition open in slot ${head.slot} of this worker`)
      return
    }
    if (head.kind === FrameKind.AppendBatches) runtime.appendBatches(buf, FRAME_HEAD_BYTES, head.requestId, head.acks)
    else if (head.kind === FrameKind.AppendAsFollower) runtime.appendAsFollower(buf, FRAME_HEAD_BYTES, head.requestId)
    else if (head.kind === FrameKind.AppendAsFollowerStaged) {
      // The batches stay where the fetch response was read (follower-staging.ts); the main thread keeps them until the reply.
      const staged = readStagedAppend(buf, FRAME_HEAD_BYTES)
      runtime.appendFollowerBatches(Buffer.from(init.followerStaging, staged.areaOffset, staged.length), staged.expectedLogEnd, head.requestId)
    }
    else runtime.appendRecords(buf, FRAME_HEAD_BYTES, head.requestId, head.acks, head.compression)
    return
  }
  if (head.kind === FrameKind.Control) {
    const request = packr.unpack(bodyOf(frame)) as ControlRequest
    const done = handleControl(head.requestId, request)
    if (request.op === 'shutdown') shutdown = done
    else if (request.op === 'open' || request.op === 'drop' || request.op === 'closePartition') barrier = done
  }
}

async function handleControl(requestId: number, request: ControlRequest): Promise<void> {
  try {
    const result = await runControl(request)
    if (requestId !== NO_REPLY) replyControl(requestId, result)
  } catch (error) {
    if (requestId !== NO_REPLY) replyControlError(requestId, error)
  }
}

function runtimeAt(slot: number): PartitionRuntime {
  const runtime = partitions.get(slot)
  if (!runtime) throw new UnknownTopicOrPartitionError(`no partition open in slot ${slot} of this worker`)
  return runtime
}

/** Takes the slot's partition out of service (no frame reaches it after this), then ends it with `end` (close or drop). */
async function removePartition(slot: number, end: (runtime: PartitionRuntime) => Promise<void>): Promise<void> {
  const runtime = runtimeAt(slot)
  partitions.delete(slot)
  await end(runtime)
  shared.clear(slot)
}

async function runControl(request: ControlRequest): Promise<unknown> {
  switch (request.op) {
    case 'open': {
      // Frames behind an open wait for it (see barrier), so they find the partition ready.
      const previous = partitions.get(request.slot)
      if (previous) await previous.close()
      const runtime = await PartitionRuntime.open({
        dataDir: init.dataDir, topic: request.topic, partition: request.partition, slot: request.slot,
        settings: request.settings, flush: init.flush, batchSize: init.batchSize, lingerMs: init.lingerMs,
        shared, replies: replyTarget, routerTurnEnded: () => routerTurnEnded,
        slowSync: { thresholdMs: init.slowSyncMs, report: (event) => parentPort?.postMessage(event) },
        onScrubDamage: (event) => parentPort?.postMessage(event),
      })
      partitions.set(request.slot, runtime)
      return null
    }
    case 'drop':
      await removePartition(request.slot, (runtime) => runtime.drop())
      return null
    case 'closePartition':
      await removePartition(request.slot, (runtime) => runtime.close())
      return null
    case 'read':
      return runtimeAt(request.slot).read(request.offset, request.maxBytes, request.toLogEnd === true, request.holdFile === true, request.readCommitted === true, request.skipAborted === true)
    case 'writeTxnMarker':
      return await runtimeAt(request.slot).writeTxnMarker(request)
    case 'offsetForTimestamp':
      return runtimeAt(request.slot).offsetForTimestamp(request.timestamp)
    case 'truncateTo':
      return runtimeAt(request.slot).truncateTo(request.offset)
    case 'repairDamagedRange':
      runtimeAt(request.slot).repairDamagedRange(request.path, request.position, Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength))
      return null
    case 'truncateFullyAndStartAt':
      return runtimeAt(request.slot).truncateFullyAndStartAt(request.offset)
    case 'setHighWatermark':
      runtimeAt(request.slot).setHighWatermark(request.offset)
      return null
    case 'endOffsetForEpoch':
      return runtimeAt(request.slot).endOffsetForEpoch(request.epoch, request.currentLeaderEpoch)
    case 'setLeaderEpoch':
      runtimeAt(request.slot).setLeaderEpoch(request.epoch)
      return null
    case 'deleteRecords':
      return runtimeAt(request.slot).deleteRecordsBefore(request.offset)
    case 'activeProducers':
      return runtimeAt(request.slot).activeProducers()
    case 'stats':
      return [...partitions.values()].map((runtime) => runtime.stats())
    case 'shutdown': {
      const closing = [...partitions.values()].map((runtime) => runtime.close())
      partitions.clear()
      await Promise.all(closing)
      return null
    }
  }
}

/** A control request later frames must wait for (open, drop, close): draining pauses until it settles. */
let barrier: Promise<void> | undefined

/** Handles up to DRAIN_MAX frames, stopping early behind a barrier; releases them in one tail update. */
function drainRequests(): number {
  let handled = 0
  try {
    while (handled < DRAIN_MAX && barrier === undefined && shutdown === undefined) {
      const frame = requests.read()
      if (frame === null) break
      handled++
      handleFrame(frame)
    }
  } finally {
    if (handled > 0) requests.release()
  }
  return handled
}

// Retention runs on the owning thread (the log's only writer); the ring wait keeps the thread alive, not this timer.
setInterval(() => {
  for (const runtime of partitions.values()) {
    try {
      runtime.applyRetention()
    } catch (error) {
      process.stderr.write(`ringlog partition worker ${init.workerIndex}: retention of ${runtime.topic}-${runtime.partition} failed: ${(error as Error).message}\n`)
    }
  }
}, init.retentionCheckMs).unref()

/**
 * Scrubbing, also on the owning thread: every tick reads at most this worker's share of the
 * scrub rate, partitions taking turns (a rotating start), so a pass is slow and steady and
 * a tick never holds the thread for long.
 */
const SCRUB_TICK_MS = 20
if (init.scrubIntervalMs > 0) {
  let turn = 0
  setInterval(() => {
    let budget = (init.scrubBytesPerSecond * SCRUB_TICK_MS) / 1000
    const runtimes = [...partitions.values()]
    const now = Date.now()
    for (let i = 0; i < runtimes.length && budget > 0; i++) {
      const runtime = runtimes[(turn + i) % runtimes.length]
      try {
        budget -= runtime.scrubStep(budget, now, init.scrubIntervalMs)
      } catch (error) {
        process.stderr.write(`ringlog partition worker ${init.workerIndex}: scrub of ${runtime.topic}-${runtime.partition} failed: ${(error as Error).message}\n`)
      }
    }
    turn++
  }, SCRUB_TICK_MS).unref()
}

/**
 * The log cleaner (cleanup.policy=compact), also on the owning thread, the log's only writer:
 * each tick does one bounded step (maps or rewrites one segment) for the first partition in
 * turn that has cleaning to do, so appends never wait behind more than one segment's work, and
 * the pacer keeps the cleaner to a fifth of the thread while it has work (CLEANER_THREAD_SHARE).
 */
const CLEANER_TICK_MS = 50
{
  let turn = 0
  const pacer = new CleanerPacer()
  setInterval(() => {
    if (!pacer.ready(performance.now())) return
    const runtimes = [...partitions.values()]
    for (let i = 0; i < runtimes.length; i++) {
      const runtime = runtimes[(turn + i) % runtimes.length]
      const startedAt = performance.now()
      try {
        if (runtime.cleanStep() > 0) { pacer.ran(startedAt, performance.now()); break }
      } catch (error) {
        process.stderr.write(`ringlog partition worker ${init.workerIndex}: log cleaner of ${runtime.topic}-${runtime.partition} failed: ${(error as Error).message}\n`)
      }
    }
    turn++
  }, CLEANER_TICK_MS).unref()
}

async function run(): Promise<void> {
  for (;;) {
    const handled = drainRequests()
    if (barrier) {
      await barrier
      barrier = undefined
    }
    let nextLinger = Infinity
    for (const runtime of partitions.values()) nextLinger = Math.min(nextLinger, runtime.afterBurst(handled === 0))
    if (shutdown) {
      await shutdown
      return
    }
    if (handled > 0) {
      await yieldMacrotask()
      continue
    }
    await requests.waitForData(nextLinger === Infinity ? undefined : { timeoutMs: nextLinger })
  }
}

run().then(
  () => { process.exit(0) },
  (error: unknown) => {
    // The ring was closed under us (router gone) or a bug: end the thread; the router sees the exit.
    process.stderr.write(`ringlog partition worker ${init.workerIndex}: ${(error as Error)?.stack ?? String(error)}\n`)
    process.exit(1)
  },
)
