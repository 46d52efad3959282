/**
 * Every implemented API, every version, request and response: a message with every field
 * that version carries filled from the schema (so a new field is covered without touching this
 * file) encodes, decodes back deep-equal and re-encodes to the same bytes. Then truncation and
 * mutation must fail with ProtocolDecodeError only.
 */
import { describe, expect, it } from 'vitest'
import { API_CODECS } from '../../src/protocol/messages/index.js'
import { IMPLEMENTED_APIS, loadApi, schemaDir, type ApiModel } from '../../src/protocol/codegen/generate.js'
import { contains, type FieldDef, type FieldType, type MessageDef } from '../../src/protocol/codegen/schema.js'
import { ProtocolDecodeError, Reader, Writer } from '../../src/protocol/primitives.js'

/** Deterministic PRNG (mulberry32) so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const CHARS = ['a', 'Z', '0', '-', '_', '.', ' ', 'é', '€', '日', '🙂']
const INT64_EDGES = [0, -1, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 32, 2 ** 32 - 1, -(2 ** 31), 1_700_000_000_000]

function freshDefault(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return Buffer.alloc(0)
  if (Array.isArray(value)) return []
  if (value !== null && typeof value === 'object') return { ...(value as object) }
  return value
}

function sampleValue(t: FieldType, nullable: boolean, version: number, rand: () => number): unknown {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1))
  if (nullable && rand() < 0.2) return null
  if (t.kind === 'array') return Array.from({ length: int(0, 3) }, () => sampleValue(t.element, false, version, rand))
  if (t.kind === 'struct') return sampleStruct(t.struct.fields, version, rand)
  switch (t.name) {
    case 'bool': return rand() < 0.5
    case 'int8': return int(-128, 127)
    case 'int16': return int(-32768, 32767)
    case 'uint16': return int(0, 65535)
    case 'int32': return int(-(2 ** 31), 2 ** 31 - 1)
    case 'uint32': return int(0, 2 ** 32 - 1)
    case 'int64': return rand() < 0.5 ? INT64_EDGES[int(0, INT64_EDGES.length - 1)] : int(-(2 ** 53 - 1), 2 ** 53 - 1)
    case 'float64': return (rand() - 0.5) * 1e9
    case 'string': return Array.from({ length: int(0, 8) }, () => CHARS[int(0, CHARS.length - 1)]).join('')
    case 'uuid': return Buffer.from(Array.from({ length: 16 }, () => int(0, 255))).toString('base64url')
    case 'bytes': case 'records': return Buffer.from(Array.from({ length: int(0, 24) }, () => int(0, 255)))
  }
}

function sampleStruct(fields: FieldDef[], version: number, rand: () => number): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of fields) {
    out[f.name] = contains(f.versions, version)
      ? sampleValue(f.type, contains(f.nullableVersions, version), version, rand)
      : freshDefault(f.defaultValue)
  }
  return out
}

const apis: ApiModel[] = IMPLEMENTED_APIS.map((a) => loadApi(schemaDir(), a.name, a.versions))

interface Case { api: ApiModel; msg: MessageDef; version: number; decode: (r: Reader, v: number) => unknown; encode: (w: Writer, v: number, m: never) => void }

function cases(): Case[] {
  const out: Case[] = []
  for (const api of apis) {
    const codec = API_CODECS.get(api.request.apiKey)
    if (!codec) throw new Error(`${api.name} missing from API_CODECS`)
    for (let version = codec.minVersion; version <= codec.maxVersion; version++) {
      out.push({ api, msg: api.request, version, decode: codec.decodeRequest, encode: codec.encodeRequest })
      out.push({ api, msg: api.response, version, decode: codec.decodeResponse, encode: codec.encodeResponse })
    }
  }
  return out
}

function encode(c: Case, message: unknown): Buffer {
  const w = new Writer(16)
  c.encode(w, c.version, message as never)
  return Buffer.from(w.finish())
}

describe('generated codecs round-trip', () => {
  it('covers the first set of DESIGN.md, the admin APIs and OffsetForLeaderEpoch (replication), each with its version range', () => {
    const ranges = [...API_CODECS.values()].map((c) => `${c.name} ${c.minVersion}-${c.maxVersion}`).sort()
    expect(ranges).toEqual([
      'AddOffsetsToTxn 0-4', 'AddPartitionsToTxn 0-5', 'AlterConfigs 0-2', 'AlterUserScramCredentials 0-0',
      'ApiVersions 0-3', 'CreateAcls 0-3', 'CreatePartitions 0-3', 'CreateTopics 0-7', 'DeleteAcls 0-3',
      'DeleteGroups 0-2', 'DeleteRecords 0-2', 'DeleteTopics 0-6', 'DescribeAcls 0-3', 'DescribeCluster 0-1',
      'DescribeConfigs 0-4', 'DescribeGroups 0-5', 'DescribeProducers 0-0', 'DescribeUserScramCredentials 0-0',
      'EndTxn 0-4', 'Fetch 0-16', 'FindCoordinator 0-5', 'Heartbeat 0-4', 'IncrementalAlterConfigs 0-1',
      'InitProducerId 0-5', 'JoinGroup 0-9', 'LeaveGroup 0-5', 'ListGroups 0-5', 'ListOffsets 0-8', 'Metadata 0-12',
      'OffsetCommit 0-9', 'OffsetDelete 0-0', 'OffsetFetch 0-9', 'OffsetForLeaderEpoch 0-4', 'Produce 0-11',
      'SaslAuthenticate 0-2', 'SaslHandshake 0-1', 'SyncGroup 0-5', 'TxnOffsetCommit 0-4', 'WriteTxnMarkers 0-1',
    ])
  })

  for (const c of cases()) {
    it(`${c.msg.name} v${c.version}`, () => {
      for (let seed = 1; seed <= 6; seed++) {
        const message = sampleStruct(c.msg.fields, c.version, rng(seed * 1000 + c.version))
        const bytes = encode(c, message)
        const r = new Reader(bytes)
        const decoded = c.decode(r, c.version)
        expect(r.remaining).toBe(0)
        expect(decoded).toEqual(message)
        expect(encode(c, decoded).equals(bytes)).toBe(true)
      }
      // An empty input object encodes every field as its default and decodes to the defaults.
      const empty = encode(c, {})
      const defaults = c.decode(new Reader(empty), c.version) as Record<string, unknown>
      for (const f of c.msg.fields) expect(defaults[f.name]).toEqual(f.defaultValue)
    })
  }

  it('rejects versions outside the implemented range', () => {
    const fetch = API_CODECS.get(1)!
    expect(() => fetch.decodeRequest(new Reader(Buffer.alloc(64)), -1)).toThrow(ProtocolDecodeError)
    expect(() => fetch.decodeRequest(new Reader(Buffer.alloc(64)), 17)).toThrow(ProtocolDecodeError)
    expect(() => fetch.encodeRequest(new Writer(), 17, {})).toThrow(/not supported/)
  })
})

describe('malformed input fails with ProtocolDecodeError only', () => {
  const expectDecodeErrorOrSuccess = (c: Case, bytes: Buffer) => {
    try {
      c.decode(new Reader(bytes), c.version)
    } catch (error) {
      if (!(error instanceof ProtocolDecodeError)) throw new Error(`${c.msg.name} v${c.version}: ${String(error)}`)
    }
  }

  it('every strict prefix of every sample throws', () => {
    let checked = 0
    for (const c of cases()) {
      const bytes = encode(c, sampleStruct(c.msg.fields, c.version, rng(7 + c.version)))
      for (let cut = 0; cut < bytes.length; cut++) {
        expect(() => c.decode(new Reader(bytes.subarray(0, cut)), c.version)).toThrow(ProtocolDecodeError)
        checked++
      }
    }
    expect(checked).toBeGreaterThan(1000)
  })

  it('random mutations decode or throw ProtocolDecodeError (bounded fuzz)', () => {
    const all = cases()
    const rand = rng(42)
    const int = (n: number) => Math.floor(rand() * n)
    const specials = [0x00, 0x7f, 0x80, 0xff, 0xfe]
    for (let i = 0; i < 6000; i++) {
      const c = all[int(all.length)]
      const bytes = encode(c, sampleStruct(c.msg.fields, c.version, rng(i)))
      const mutated = Buffer.from(bytes)
      const edits = 1 + int(4)
      for (let e = 0; e < edits && mutated.length > 0; e++) {
        mutated[int(mutated.length)] = rand() < 0.5 ? specials[int(specials.length)] : int(256)
      }
      expectDecodeErrorOrSuccess(c, mutated)
    }
  })

  it('random garbage decodes or throws ProtocolDecodeError', () => {
    const all = cases()
    const rand = rng(99)
    for (let i = 0; i < 2000; i++) {
      const c = all[Math.floor(rand() * all.length)]
      const garbage = Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)))
      expectDecodeErrorOrSuccess(c, garbage)
    }
  })

  it('a huge claimed array count is refused before reading elements', () => {
    // Metadata v1 request: topics count 0x7fffffff with 4 bytes behind it.
    const bytes = Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 3, 0x61, 0x62])
    expect(() => API_CODECS.get(3)!.decodeRequest(new Reader(bytes), 1)).toThrow(/cannot fit/)
  })
})
