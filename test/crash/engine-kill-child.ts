/**
 * Child process for engine-kill.test.ts: appends to one partition through the engine with
 * flush 'always' and prints `ACK <baseOffset> <count> <tag>` for each acknowledged call, until
 * the parent SIGKILLs it. Alternates the embedded path (appendRecords, lz4) and wire batches.
 */
import { createLogEngine } from '../../src/engine/main/router.js'
import { Compression } from '../../src/protocol/compression.js'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { crashRecordValue } from './engine-kill-values.js'

const [dataDir, round] = process.argv.slice(2)
const engine = createLogEngine({ dataDir, flush: 'always', maxWorkers: 1 })
await engine.openPartition('crash', 0)
process.stdout.write('READY\n')

const LANES = 4
const deadline = Date.now() + 20_000
let call = 0

async function lane(): Promise<void> {
  while (Date.now() < deadline) {
    const tag = `${round}.${call++}`
    const count = 1 + (call % 7)
    const values = Array.from({ length: count }, (_, i) => crashRecordValue(tag, i))
    const result = call % 2 === 0
      ? await engine.appendRecords('crash', 0, values.map((value) => ({ value })), { acks: -1, compression: Compression.lz4 })
      : await engine.appendBatches('crash', 0, encodeRecordBatch({ records: values.map((value) => ({ value })) }), -1)
    if (result.errorCode !== 0) throw new Error(`append failed: ${result.errorCode} ${result.errorMessage}`)
    process.stdout.write(`ACK ${result.baseOffset} ${count} ${tag}\n`)
  }
}

await Promise.all(Array.from({ length: LANES }, lane))
await engine.close()
