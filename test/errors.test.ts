/**
 * The error table (src/errors.ts) against docs/errors.md, the sources and the public exports:
 * every RinglogError subclass has a row, every row is documented and every documented row
 * exists; codes cross a real MessageChannel (and the recovery pool's threads) as
 * `{ code, message }` and come back as the class the table gives the code.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MessageChannel } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import {
  ERROR_TABLE, errorForCode, errorFromCode, errorFromPayload, InvalidFrameSizeError, RinglogError, toErrorPayload,
  type ErrorPayload, type ErrorRow,
} from '../src/errors.js'
import { RecoveryPool } from '../src/engine/recovery/recovery-pool.js'
import * as publicApi from '../src/index.js'
import { ErrorCode, errorCodeName, isRetriableCode } from '../src/protocol/error-codes.js'

const REPO = fileURLToPath(new URL('../', import.meta.url))

/** The classes whose retriable flag differs from Kafka's for their code (docs/errors.md says why). */
const FINAL_DESPITE_CODE = new Set(['LogClosedError', 'RingClosedError'])

function construct(row: ErrorRow): RinglogError {
  return row.kind === InvalidFrameSizeError ? new InvalidFrameSizeError(-1, 1024) : Reflect.construct(row.kind, []) as RinglogError
}

interface DocumentedRow { name: string; code: number; kafkaName: string; retriable: boolean; fromCode: boolean; message: string }

function documentedRows(): DocumentedRow[] {
  const text = readFileSync(join(REPO, 'docs/errors.md'), 'utf8')
  const rows: DocumentedRow[] = []
  for (const line of text.split('\n')) {
    const m = /^\| `(\w+)` \| (-?\d+) \| (\w+) \| (yes|no) \| (yes|no) \| (.+?) \|$/.exec(line)
    if (m) rows.push({ name: m[1], code: Number(m[2]), kafkaName: m[3], retriable: m[4] === 'yes', fromCode: m[5] === 'yes', message: m[6] })
  }
  return rows
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

describe('the error table', () => {
  it('is documented in docs/errors.md, row for row, and every documented row exists', () => {
    const documented = documentedRows()
    const asTable = ERROR_TABLE.map((r) => ({
      name: r.name, code: r.code, kafkaName: errorCodeName(r.code), retriable: r.retriable, fromCode: r.fromCode, message: r.message,
    }))
    // Both ways: nothing undocumented, nothing documented that the table lacks, and the same values.
    expect(documented.map((d) => d.name).sort()).toEqual(asTable.map((r) => r.name).sort())
    expect(documented).toEqual(asTable)
  })

  it('has a row for every RinglogError subclass declared anywhere in src/', () => {
    const parents = new Map<string, string>()
    for (const file of sourceFiles(join(REPO, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\bclass (\w+) extends (\w+)/g)) parents.set(m[1], m[2])
    }
    const descendsFromRinglogError = (name: string): boolean => {
      for (let at: string | undefined = name, hops = 0; at && hops < 20; at = parents.get(at), hops++) if (at === 'RinglogError') return true
      return false
    }
    // TableError is the table's own base class, not an error anyone raises.
    const subclasses = [...parents.keys()].filter((name) => name !== 'RinglogError' && name !== 'TableError' && descendsFromRinglogError(name))
    expect(subclasses.length).toBeGreaterThanOrEqual(ERROR_TABLE.length)
    expect(subclasses.filter((name) => !ERROR_TABLE.some((r) => r.name === name))).toEqual([])
  })

  it('gives each row a real class with its code, name, default message and retriable flag', () => {
    expect(new Set(ERROR_TABLE.map((r) => r.name)).size).toBe(ERROR_TABLE.length)
    for (const row of ERROR_TABLE) {
      const error = construct(row)
      expect(error).toBeInstanceOf(RinglogError)
      expect(error).toBeInstanceOf(row.kind)
      expect(error.name).toBe(row.name)
      expect(error.code).toBe(row.code)
      expect(error.retriable).toBe(row.retriable)
      if (row.kind !== InvalidFrameSizeError) expect(error.message).toBe(row.message)
      expect(errorCodeName(row.code)).not.toMatch(/^UNKNOWN\(/)
      expect(row.retriable, row.name).toBe(FINAL_DESPITE_CODE.has(row.name) ? false : isRetriableCode(row.code))
    }
  })

  it('maps a code to at most one class, and each such class to its own code', () => {
    const fromCode = ERROR_TABLE.filter((r) => r.fromCode)
    expect(new Set(fromCode.map((r) => r.code)).size).toBe(fromCode.length)
    for (const row of fromCode) {
      const error = errorFromCode(row.code, 'why')
      expect(error.constructor).toBe(row.kind)
      expect(error.code).toBe(row.code)
      expect(error.message).toBe('why')
    }
    // A code without a class: a RinglogError with the code, Kafka's retriable flag and its name as message.
    const bare = errorFromCode(ErrorCode.NOT_LEADER_OR_FOLLOWER)
    expect(bare.constructor).toBe(RinglogError)
    expect(bare).toMatchObject({ code: ErrorCode.NOT_LEADER_OR_FOLLOWER, message: 'NOT_LEADER_OR_FOLLOWER', retriable: true })
    expect(errorFromCode(ErrorCode.ILLEGAL_GENERATION).retriable).toBe(false)
    const withContext = errorForCode(ErrorCode.TOPIC_ALREADY_EXISTS, null, 'topic "t"')
    expect(withContext).toBeInstanceOf(publicApi.TopicAlreadyExistsError)
    expect(withContext.message).toBe('topic "t": TOPIC_ALREADY_EXISTS')
  })

  it('crosses a MessageChannel as a code and a message only, and comes back as the class of that code', async () => {
    const { port1, port2 } = new MessageChannel()
    try {
      const received: ErrorPayload[] = []
      const all = new Promise<void>((resolve) => {
        port2.on('message', (payload: ErrorPayload) => {
          received.push(payload)
          if (received.length === ERROR_TABLE.length + 1) resolve()
        })
      })
      for (const row of ERROR_TABLE) port1.postMessage(toErrorPayload(construct(row)))
      port1.postMessage(toErrorPayload(new TypeError('not ours')))
      await all
      ERROR_TABLE.forEach((row, i) => {
        expect(Object.keys(received[i]).sort()).toEqual(['code', 'message'])
        const back = errorFromPayload(received[i])
        const expectedClass = ERROR_TABLE.find((r) => r.fromCode && r.code === row.code)?.kind ?? RinglogError
        expect(back.constructor, row.name).toBe(expectedClass)
        expect(back.code).toBe(row.code)
        expect(back.message).toBe(construct(row).message)
      })
      const foreign = errorFromPayload(received[ERROR_TABLE.length])
      expect(foreign).toMatchObject({ code: ErrorCode.UNKNOWN_SERVER_ERROR, message: 'not ours' })
    } finally {
      port1.close()
    }
  })

  it('comes back from a failed recovery task on the piscina pool as a RinglogError with a code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringlog-errors-'))
    const pool = new RecoveryPool(1)
    try {
      // A directory where the first segment file should be: recovery cannot read it.
      mkdirSync(join(dir, '00000000000000000000.log'))
      const failure = await pool.recover(dir, {}, 'never').then(() => null, (error: unknown) => error)
      expect(failure).toBeInstanceOf(RinglogError)
      expect(failure).toMatchObject({ code: ErrorCode.UNKNOWN_SERVER_ERROR, message: expect.stringMatching(/EISDIR/) })
    } finally {
      await pool.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('keeps the public exports: the same class names and codes, all in the table', () => {
    const before: Record<string, number> = {
      CorruptRecordError: 2, DiskFullError: 56, DuplicateSequenceError: 46, InvalidProducerEpochError: 47, InvalidRecordError: 87,
      InvalidRequestError: 42, LogClosedError: 56, OffsetOutOfRangeError: 1, OutOfOrderSequenceError: 45, RecordTooLargeError: 10,
      StorageOfflineError: 56, TopicAlreadyExistsError: 36, UnknownTopicOrPartitionError: 3, UnsupportedCompressionError: 76,
      InvalidPartitionsError: 37, InvalidTopicError: 17, InvalidConfigError: 40,
    }
    const exported = publicApi as unknown as Record<string, unknown>
    for (const [name, code] of Object.entries(before)) {
      const Kind = exported[name] as new (message: string) => RinglogError
      const error = new Kind('m')
      expect(error, name).toBeInstanceOf(publicApi.RinglogError)
      expect(error.code, name).toBe(code)
      expect(error.name).toBe(name)
    }
    const exportedErrorClasses = Object.entries(exported)
      .filter(([, value]) => typeof value === 'function' && (value as { prototype: unknown }).prototype instanceof RinglogError)
      .map(([name]) => name)
    expect(exportedErrorClasses.filter((name) => !ERROR_TABLE.some((r) => r.name === name))).toEqual([])
  })
})
