import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RinglogError } from '../../src/errors.js'
import { Compression, compress } from '../../src/protocol/compression.js'
import {
  BATCH_HEADER_SIZE, LOG_OVERHEAD, computeBatchCrc, decodeRecordBatch, encodeRecordBatch, readBatchHeader,
  splitBatches, validateBatch,
} from '../../src/protocol/record-batch.js'
import { decodeRecords, encodeRecords } from '../../src/protocol/records.js'

// Hostile bytes must only ever raise RinglogError subclasses (which become Kafka error codes),
// never RangeError/TypeError from a Buffer read or an allocation sized by a claimed length.
// Every run is bounded: a fixed number of cases, each decoding at most a few KiB.

const CAP = 256 * 1024
const records = [
  { key: 'key-0', value: 'value '.repeat(20), headers: { trace: 'abc', nil: null }, timestamp: 1_700_000_000_000 },
  { key: null, value: null, timestamp: 1_699_999_999_000 },
  { key: 'k', value: Buffer.from([0, 1, 2, 3, 255]), headers: [{ key: 'h', value: Buffer.from('v') }], timestamp: 1_700_000_000_500 },
]
const codecs = [Compression.none, Compression.gzip, Compression.lz4]
const batches = codecs.map((compression) => encodeRecordBatch({ records, compression, producerId: 5, producerEpoch: 1, baseSequence: 0 }))
const body = encodeRecords(records, 1_700_000_000_000)

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'int32'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }

const position = fc.nat({ max: 4096 })
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.nat({ max: 7 }) }),
  // Varint-significant bytes (null, zero, sign, continuation) are favoured over uniform noise.
  fc.record({ kind: fc.constant('set' as const), at: position, byte: fc.oneof(fc.constantFrom(0x00, 0x01, 0x02, 0x7f, 0x80, 0xff), fc.nat({ max: 255 })) }),
  // Length and count fields with extreme values: the likeliest way to trigger a huge allocation.
  fc.record({
    kind: fc.constant('int32' as const),
    at: fc.constantFrom(8, 12, 23, 57, 61, 62, 63, 65, 70, 80),
    value: fc.constantFrom(-1, 0, 1, 0x7fffffff, -0x80000000, 0x10000000, 61),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({ kind: fc.constant('insert' as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
)

function apply(input: Buffer, mutations: Mutation[]): Buffer {
  let b = Buffer.from(input)
  for (const m of mutations) {
    if (b.length === 0) break
    const at = m.at % b.length
    switch (m.kind) {
      case 'flip': b[at] ^= 1 << m.bit; break
      case 'set': b[at] = m.byte; break
      case 'int32': if (m.at + 4 <= b.length) b.writeInt32BE(m.value, m.at); break
      case 'truncate': b = b.subarray(0, at); break
      case 'insert': b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]); break
    }
  }
  return b
}

/** Makes the mutated batch pass the length and CRC checks, so the fuzz reaches the decoders behind them. */
function reseal(b: Buffer): Buffer {
  if (b.length < BATCH_HEADER_SIZE) return b
  b.writeInt32BE(b.length - LOG_OVERHEAD, 8)
  b.writeUInt32BE(computeBatchCrc(b, 0, b.length), 17)
  return b
}

function onlyRinglogErrors(run: () => unknown): void {
  try {
    run()
  } catch (e) {
    if (!(e instanceof RinglogError)) throw new Error(`non-Ringlog error escaped: ${(e as Error)?.name}: ${(e as Error)?.message}`)
  }
}

function exercise(b: Buffer): void {
  onlyRinglogErrors(() => validateBatch(b))
  onlyRinglogErrors(() => readBatchHeader(b))
  onlyRinglogErrors(() => decodeRecordBatch(b, 0, CAP))
  // splitBatches never throws: it reports what does not parse as trailing bytes.
  const { batches: found, trailingBytes } = splitBatches(b)
  expect(found.reduce((n, x) => n + x.size, 0) + trailingBytes).toBe(b.length)
}

describe('hostile record batches', () => {
  it('random mutations and truncations of valid batches raise only RinglogError', () => {
    fc.assert(fc.property(
      fc.nat({ max: batches.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(),
      (which, mutations, resealed) => {
        const mutated = apply(batches[which], mutations)
        exercise(resealed ? reseal(mutated) : mutated)
      },
    ), { numRuns: 3000, seed: 20240611 })
  })

  it('mutated records under a valid compression layer raise only RinglogError', () => {
    fc.assert(fc.property(
      fc.constantFrom(...codecs), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.integer({ min: -2, max: 6 }),
      (codec, mutations, countSkew) => {
        const mutatedBody = apply(body, mutations)
        const template = batches[codecs.indexOf(codec)]
        const b = Buffer.concat([template.subarray(0, BATCH_HEADER_SIZE), compress(codec, mutatedBody)])
        b.writeInt32BE(records.length + countSkew, 57)
        exercise(reseal(b))
        onlyRinglogErrors(() => decodeRecords(mutatedBody, records.length + countSkew))
      },
    ), { numRuns: 2000, seed: 7 })
  })

  it('random bytes (not derived from a batch) raise only RinglogError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, resealed) => {
      const b = Buffer.from(bytes)
      if (b.length >= BATCH_HEADER_SIZE) b.writeInt8(2, 16) // get past the magic check
      exercise(resealed ? reseal(b) : b)
    }), { numRuns: 1500, seed: 99 })
  })

  it('still decodes the unmutated batches (the fuzz starts from valid input)', () => {
    for (const b of batches) expect(decodeRecordBatch(b).records).toHaveLength(records.length)
  })
})
