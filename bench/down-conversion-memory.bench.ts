/**
 * Broker memory during one large down-converted fetch: `ringlog serve` (compiled, child
 * process) gets --mib MiB of 10 KiB records in one partition (uncompressed RecordBatch v2
 * over the wire), then one Fetch v3 (magic 1 message sets) asks for all of it. The broker's
 * RSS (VmRSS from /proc/<pid>/status) is sampled every 10 ms; reported: RSS before the fetch,
 * the peak during it, and the response size. A down-conversion that buffered the fetch would
 * grow by about 2-3x the fetch; a streaming one by a few MiB (windows) plus socket buffers.
 *
 *   npm run build && npx tsx bench/down-conversion-memory.bench.ts [--mib 100]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { KafkaWireClient } from '../src/kafka-client/kafka-wire-client.js'
import { encodeRecordBatch } from '../src/protocol/record-batch.js'
import { startRinglogBroker } from '../test/cli/ringlog-process.js'

const { values: args } = parseArgs({ options: { mib: { type: 'string', default: '100' } } })
const MIB = Number(args.mib)
const TOPIC = 'down-conversion-memory'
const RECORD_BYTES = 10 * 1024
const RECORDS_PER_BATCH = 90

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return kb / 1024
}

const dataDir = mkdtempSync(join(tmpdir(), 'ringlog-down-conversion-bench-'))
const broker = await startRinglogBroker(['--data-dir', dataDir, '--flush', 'never', '--max-workers', '1'])
const client = await KafkaWireClient.connect('127.0.0.1', broker.port, { clientId: 'down-conversion-bench', maxResponseBytes: 2 * MIB * 1024 * 1024, requestTimeoutMs: 120_000 })
try {
  await client.request(19, 4, { topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 30_000, validateOnly: false })
  const value = Buffer.alloc(RECORD_BYTES, 7)
  const batches = Math.ceil((MIB * 1024 * 1024) / (RECORD_BYTES * RECORDS_PER_BATCH))
  for (let b = 0; b < batches; b++) {
    const records = encodeRecordBatch({ records: Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({ key: `k${b}-${i}`, value })) })
    const r = await client.request(0, 9, { acks: 1, timeoutMs: 30_000, topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }] })
    const code = r.responses[0].partitionResponses[0].errorCode
    if (code !== 0) throw new Error(`produce failed with ${code}`)
  }
  // Let the broker settle, then sample through the fetch.
  await new Promise((resolve) => setTimeout(resolve, 500))
  const before = rssMiB(broker.pid)
  let peak = before
  const sampler = setInterval(() => { peak = Math.max(peak, rssMiB(broker.pid)) }, 10)
  const started = Date.now()
  const all = 2 * MIB * 1024 * 1024
  const fetched = await client.request(1, 3, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: all, topics: [{ topic: TOPIC, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: all }] }],
  })
  const seconds = (Date.now() - started) / 1000
  clearInterval(sampler)
  peak = Math.max(peak, rssMiB(broker.pid))
  const records = fetched.responses[0].partitions[0].records
  console.log(JSON.stringify({
    fetchVersion: 3, storedMiB: Math.round((batches * RECORDS_PER_BATCH * RECORD_BYTES) / 1048576),
    responseRecordsMiB: Math.round(((records?.length ?? 0) / 1048576) * 10) / 10,
    brokerRssMiB: { before: Math.round(before), peak: Math.round(peak), growth: Math.round(peak - before) },
    seconds,
  }, null, 2))
} finally {
  await client.close()
  await broker.stop()
  rmSync(dataDir, { recursive: true, force: true })
}
