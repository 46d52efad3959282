/**
 * Issue 18, H1: a fetch response still streaming when its topic is deleted must keep sending
 * that topic's bytes (or close the connection), never the bytes of a file that reused the
 * closed descriptor's number. A slow reader (small receive window, not reading) fetches all
 * of topic A; A is deleted, B is created and filled to the same size; then the reader resumes.
 * Shared by the sendfile and the read-stream variants (fetch-during-delete*.test.ts).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nativeSendFileAvailable } from '../../src/broker/send-file.js'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { RawClient } from './raw-client.js'
import { eventually, startTestBroker, type TestBroker } from './test-broker.js'

type Msg = Record<string, any>

const PYTHON = '/usr/bin/python3'
const MiB = 1024 * 1024
/** Well over what the broker's send buffer (tcp_wmem max 4 MiB) and a 4 KiB receive window hold. */
const TOPIC_BYTES = 12 * MiB
const VALUE_BYTES = 100 * 1024
const RECORDS_PER_BATCH = 8

/**
 * The slow reader, in Python because Node cannot shrink a TCP socket's receive buffer: with
 * SO_RCVBUF set before connect the kernel keeps the window small (no autotuning), so a
 * response of a few MiB stays in flight while the reader waits. It sends the request, reports
 * "started" once bytes arrive, reads nothing more until it gets a line on stdin, then writes
 * what it received (until the frame is whole or the broker closes) to `out`.
 */
const SLOW_READER = `
import socket, sys
port, out, request = int(sys.argv[1]), sys.argv[2], bytes.fromhex(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
s.sendall(request)
got = s.recv(4096)
print("started", flush=True)
sys.stdin.readline()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
closed = False
while len(got) < 4 or len(got) < 4 + int.from_bytes(got[:4], "big"):
    chunk = s.recv(1 << 20)
    if not chunk:
        closed = True
        break
    got += chunk
open(out, "wb").write(got)
print("closed" if closed else "whole", flush=True)
`

interface SlowReader {
  child: ChildProcessWithoutNullStreams
  /** Resolves with the reader's next stdout line (or "exit N" if it ended without one). */
  nextLine(): Promise<string>
}

function startSlowReader(port: number, out: string, request: Buffer): SlowReader {
  const child = spawn(PYTHON, ['-c', SLOW_READER, String(port), out, request.toString('hex')])
  const lines: string[] = []
  const waiters: ((line: string) => void)[] = []
  let buffered = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    buffered += text
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      const waiter = waiters.shift()
      if (waiter) waiter(line)
      else lines.push(line)
    }
  })
  child.stderr.setEncoding('utf8').on('data', (text: string) => process.stderr.write(text))
  const exited = new Promise<string>((resolve) => child.once('exit', (code) => resolve(`exit ${code}`)))
  return {
    child,
    nextLine: () => {
      const line = lines.shift()
      if (line !== undefined) return Promise.resolve(line)
      return Promise.race([new Promise<string>((resolve) => waiters.push(resolve)), exited])
    },
  }
}

/** Descriptors of this process open on a file whose path contains `fragment` (Linux /proc). */
function openDescriptorsOf(fragment: string): number {
  let count = 0
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).includes(fragment)) count++
    } catch {
      // closed between the listing and the readlink
    }
  }
  return count
}

/** Registers the scenario's tests in the calling test file. */
export function describeDeleteDuringFetch(): void {
  let broker: TestBroker
  let admin: RawClient
  const readers: SlowReader[] = []

  beforeAll(async () => {
    broker = await startTestBroker({ numPartitions: 1 })
    admin = await RawClient.connect(broker.port)
  })

  afterAll(async () => {
    for (const { child } of readers) if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
    admin?.close()
    await broker?.destroy()
  })

  async function createTopic(name: string): Promise<void> {
    const res = await admin.request<Msg>(19, 4, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000 })
    expect(res.topics[0].errorCode).toBe(0)
  }

  /** Fills partition 0 of `topic` with about TOPIC_BYTES of records whose values are all `fill`. */
  async function fill(topic: string, fill: string): Promise<void> {
    const value = Buffer.alloc(VALUE_BYTES, fill)
    const batches = Math.ceil(TOPIC_BYTES / (VALUE_BYTES * RECORDS_PER_BATCH))
    for (let i = 0; i < batches; i++) {
      const records = encodeRecordBatch({ records: Array.from({ length: RECORDS_PER_BATCH }, (_, r) => ({ key: `${topic}-${i}-${r}`, value, timestamp: 1_700_000_000_000 })) })
      const res = await admin.request<Msg>(0, 7, { acks: 1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] })
      expect(res.responses[0].partitionResponses[0].errorCode).toBe(0)
    }
  }

  describe(`a fetch in flight when its topic is deleted (H1, ${nativeSendFileAvailable() ? 'sendfile' : 'read stream'})`, () => {
    it('streams the deleted topic\'s bytes, never those of a topic created after it', async () => {
      await createTopic('h1-a')
      await fill('h1-a', 'A')
      const aBytes = readFileSync(join(broker.dataDir, 'h1-a-0', '00000000000000000000.log'))
      expect(aBytes.length).toBeGreaterThan(TOPIC_BYTES - MiB)

      const out = join(broker.dataDir, 'slow-reader.bin')
      const reader = startSlowReader(broker.port, out, RawClient.frame(1, 11, 7, {
        replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 256 * MiB, isolationLevel: 0,
        topics: [{ topic: 'h1-a', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 256 * MiB }] }],
      }))
      readers.push(reader)
      expect(await reader.nextLine()).toBe('started')

      const deleted = await admin.request<Msg>(20, 4, { topicNames: ['h1-a'], timeoutMs: 1000 })
      expect(deleted.responses[0].errorCode).toBe(0)
      await createTopic('h1-b')
      await fill('h1-b', 'B')

      reader.child.stdin.write('go\n')
      const outcome = await reader.nextLine()
      expect(['whole', 'closed']).toContain(outcome)
      const bytes = readFileSync(out)
      // Fetch v11 is not flexible: the records field ends the frame, so its bytes are the frame's last ones.
      const frameEnd = 4 + bytes.readInt32BE(0)
      const recordsStart = frameEnd - aBytes.length
      const recordBytes = bytes.subarray(Math.min(recordsStart, bytes.length), Math.min(frameEnd, bytes.length))
      console.log(`H1: received ${bytes.length} of ${frameEnd} bytes (${outcome}); ${recordBytes.length} record bytes`)
      if (outcome === 'whole') expect(bytes.length).toBe(frameEnd)
      expect(recordBytes.includes(Buffer.alloc(64, 'B'))).toBe(false)
      expect(recordBytes.equals(aBytes.subarray(0, recordBytes.length))).toBe(true)
      // The descriptor held for the send is closed once it ends (asynchronously, on the threadpool).
      await eventually(async () => (openDescriptorsOf('h1-a-0') === 0 ? true : undefined))
    })
  })
}
