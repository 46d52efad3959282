/**
 * What the stand-alone bench scripts share: their common flags (checked, so a typo is an error
 * rather than NaN records), the 100-byte records they send, and a fresh data directory.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

export const RECORD_BYTES = 100

export interface CommonBenchArgs {
  /** Repetitions of every row (medians are reported). */
  runs: number
  /** Records per repetition. */
  records: number
  /** Records per send/append call. */
  perCall: number
  /** Calls in flight (0 for a script that sets no --window). */
  window: number
  /** Where to write the JSON report as well, if anywhere. */
  json: string | undefined
}

type StringOptions = Record<string, { type: 'string'; default?: string }>

/**
 * Parses --runs, --records, --call, --json and (when it has a default) --window, plus the
 * script's own string flags, which come back as they were typed. Unknown flags are errors.
 */
export function parseBenchArgs(
  defaults: { runs: number; records: number; perCall: number; window?: number },
  extra: StringOptions = {},
): { common: CommonBenchArgs; extra: Record<string, string | undefined> } {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: String(defaults.runs) },
      records: { type: 'string', default: String(defaults.records) },
      call: { type: 'string', default: String(defaults.perCall) },
      ...(defaults.window !== undefined && { window: { type: 'string', default: String(defaults.window) } }),
      json: { type: 'string' },
      ...extra,
    },
  })
  const strings = values as Record<string, string | undefined>
  return {
    common: {
      runs: positiveInteger('--runs', strings.runs),
      records: positiveInteger('--records', strings.records),
      perCall: positiveInteger('--call', strings.call),
      window: defaults.window === undefined ? 0 : positiveInteger('--window', strings.window),
      json: strings.json,
    },
    extra: strings,
  }
}

export function positiveInteger(flag: string, raw: string | undefined): number {
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${String(raw)}`)
  return n
}

/** Eight calls' worth of keyless records, cycling through 1000 distinct 100-byte values. */
export function valueCalls(perCall: number): { value: Buffer }[][] {
  const values = Array.from({ length: 1000 }, (_, i) => Buffer.alloc(RECORD_BYTES, (i * 37) & 0xff))
  return Array.from({ length: 8 }, (_, c) => Array.from({ length: perCall }, (_, i) => ({ value: values[(c * perCall + i) % values.length] })))
}

export function freshDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `ringlog-bench-${name}-`))
}
