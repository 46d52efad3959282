/**
 * The benchmark report's schema (JSON Schema 2020-12, schemaVersion 1) and a validator for
 * the subset of keywords it uses (type, const, enum, minimum, required, properties,
 * additionalProperties, items, $ref into $defs), so reports can be checked without a
 * dependency. Bump REPORT_SCHEMA_VERSION (report.ts) on any incompatible change; adding an
 * optional field is compatible.
 *
 * Units: durations in ns (durationNs) or ms (tMs, latency ms), CPU in seconds (user + system),
 * bytes in bytes, MB = 10^6 bytes, throughput per second of wall time.
 */
import type { BenchReport } from './report.js'

export type JsonSchema = {
  $schema?: string
  $id?: string
  $ref?: string
  $defs?: Record<string, JsonSchema>
  description?: string
  type?: JsonType | JsonType[]
  const?: string | number | boolean | null
  enum?: Array<string | number | boolean | null>
  minimum?: number
  required?: string[]
  properties?: Record<string, JsonSchema>
  additionalProperties?: boolean | JsonSchema
  items?: JsonSchema
  minItems?: number
  maxItems?: number
}

type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'null'

const num = (description: string, minimum?: number): JsonSchema => (minimum === undefined ? { type: 'number', description } : { type: 'number', minimum, description })
const spread: JsonSchema = {
  type: 'object',
  required: ['median', 'mean', 'stddev', 'min', 'max'],
  properties: { median: num(''), mean: num(''), stddev: num('sample standard deviation', 0), min: num(''), max: num('') },
  additionalProperties: false,
}

/** A scenario run: what a `run` and a `scenario` (a run plus its same-run reference) share. */
const RUN_REQUIRED = ['name', 'params', 'repetitions', 'summary']
const RUN_PROPERTIES: Record<string, JsonSchema> = {
  name: { type: 'string' },
  params: { $ref: '#/$defs/params' },
  repetitions: { type: 'array', items: { $ref: '#/$defs/repetition' }, minItems: 1 },
  summary: { $ref: '#/$defs/summary' },
}

export const BENCH_REPORT_JSON_SCHEMA: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://ringlog.dev/schemas/bench-report-1.json',
  description: 'ringlog benchmark report, schemaVersion 1',
  type: 'object',
  required: ['schemaVersion', 'kind', 'createdAt', 'command', 'machine', 'scenarios'],
  properties: {
    schemaVersion: { const: 1 },
    kind: { const: 'ringlog-bench' },
    createdAt: { type: 'string', description: 'ISO 8601 time the report was made' },
    command: {
      type: 'object',
      required: ['argv', 'cwd'],
      properties: { argv: { type: 'array', items: { type: 'string' } }, cwd: { type: 'string' } },
      additionalProperties: false,
    },
    machine: {
      type: 'object',
      required: ['cpus', 'cpuModel', 'memoryBytes', 'node', 'os', 'loadAverage1m'],
      properties: {
        cpus: { type: 'integer', minimum: 1 },
        cpuModel: { type: 'string' },
        memoryBytes: num('total memory in bytes', 0),
        node: { type: 'string', description: 'process.version' },
        os: {
          type: 'object',
          required: ['platform', 'release', 'arch'],
          properties: { platform: { type: 'string' }, release: { type: 'string' }, arch: { type: 'string' } },
          additionalProperties: false,
        },
        loadAverage1m: num('1-minute load average when the report was made', 0),
      },
      additionalProperties: false,
    },
    scenarios: { type: 'array', items: { $ref: '#/$defs/scenario' } },
  },
  additionalProperties: false,
  $defs: {
    params: {
      type: 'object',
      description: 'scenario.ts BenchParams',
      required: ['recordSize', 'partitions', 'acks', 'compression', 'flush', 'batchSize', 'lingerMs', 'mode', 'brokers', 'rate', 'durationMs', 'records'],
      properties: {
        recordSize: { type: 'integer', minimum: 1 },
        partitions: { type: 'integer', minimum: 1 },
        acks: { enum: [-1, 0, 1] },
        compression: { enum: ['none', 'gzip', 'lz4'] },
        flush: { type: ['string', 'number'], description: "'always', 'never' or max ms between syncs" },
        batchSize: { type: 'integer', minimum: 1 },
        lingerMs: num('', 0),
        inFlight: { type: 'integer', minimum: 1, description: 'embedded produce: sends in flight' },
        mode: { enum: ['embedded', 'tcp'] },
        brokers: { type: 'array', items: { type: 'string' } },
        rate: { type: ['number', 'null'], description: 'offered records/s, null = unbounded' },
        durationMs: { type: ['number', 'null'] },
        records: { type: ['integer', 'null'] },
        cluster: { type: 'integer', minimum: 0, description: 'tcp: brokers of a private dev cluster the bench started (0: one plain broker)' },
        replicationFactor: { type: 'integer', minimum: 1 },
      },
      additionalProperties: false,
    },
    histogram: {
      type: 'object',
      description: 'histogram.ts SerializedHistogram: [value ns, count] pairs from HDR percentiles on a fixed grid',
      required: ['unit', 'count', 'min', 'max', 'mean', 'buckets'],
      properties: {
        unit: { const: 'ns' },
        count: { type: 'integer', minimum: 0 },
        min: num('ns', 0),
        max: num('ns', 0),
        mean: num('ns', 0),
        buckets: { type: 'array', items: { type: 'array', items: { type: 'number', minimum: 0 }, minItems: 2, maxItems: 2 } },
      },
      additionalProperties: false,
    },
    repetition: {
      type: 'object',
      required: ['records', 'bytes', 'durationNs', 'cpu', 'latency', 'throughput'],
      properties: {
        records: { type: 'integer', minimum: 0 },
        bytes: { type: 'integer', minimum: 0 },
        durationNs: { type: 'integer', minimum: 0 },
        cpu: {
          type: 'object',
          required: ['broker', 'client'],
          properties: { broker: num('CPU seconds', 0), client: num('CPU seconds', 0) },
          additionalProperties: false,
        },
        latency: { $ref: '#/$defs/histogram' },
        throughput: {
          type: 'array',
          description: 'records/s per sample window (default 1 s), tMs = window end since start',
          items: {
            type: 'object',
            required: ['tMs', 'recordsPerSec'],
            properties: { tMs: num('', 0), recordsPerSec: num('', 0) },
            additionalProperties: false,
          },
        },
      },
      additionalProperties: false,
    },
    summary: {
      type: 'object',
      required: ['repetitions', 'recordsPerSec', 'mbPerSec', 'cpuSecondsPerMillionRecords', 'latencyMs'],
      properties: {
        repetitions: { type: 'integer', minimum: 1 },
        recordsPerSec: spread,
        mbPerSec: spread,
        cpuSecondsPerMillionRecords: {
          type: 'object',
          required: ['broker', 'client'],
          properties: { broker: num('median over repetitions', 0), client: num('median over repetitions', 0) },
          additionalProperties: false,
        },
        latencyMs: {
          type: 'object',
          required: ['count', 'p50', 'p99', 'p999', 'max'],
          properties: { count: { type: 'integer', minimum: 0 }, p50: num('', 0), p99: num('', 0), p999: num('', 0), max: num('', 0) },
          additionalProperties: false,
        },
      },
      additionalProperties: false,
    },
    run: {
      type: 'object',
      required: RUN_REQUIRED,
      properties: RUN_PROPERTIES,
      additionalProperties: false,
    },
    scenario: {
      type: 'object',
      required: RUN_REQUIRED,
      properties: {
        ...RUN_PROPERTIES,
        reference: { $ref: '#/$defs/run' },
        pairRatios: { type: 'array', items: { type: 'number', minimum: 0 }, description: 'subject/reference records/s per adjacent pair' },
        medianPairRatio: num('', 0),
      },
      additionalProperties: false,
    },
  },
}

function typeOf(value: unknown): JsonType {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value as JsonType
}

function matchesType(value: unknown, type: JsonType): boolean {
  const actual = typeOf(value)
  return actual === type || (type === 'number' && actual === 'integer')
}

function resolve(root: JsonSchema, ref: string): JsonSchema {
  const name = ref.replace(/^#\/\$defs\//, '')
  const target = root.$defs?.[name]
  if (!target) throw new Error(`unresolvable $ref ${ref}`)
  return target
}

function check(root: JsonSchema, schema: JsonSchema, value: unknown, path: string, errors: string[]): void {
  if (schema.$ref) return check(root, resolve(root, schema.$ref), value, path, errors)
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type]
    if (!types.some((t) => matchesType(value, t))) {
      errors.push(`${path}: expected ${types.join(' or ')}, got ${typeOf(value)}`)
      return
    }
  }
  if (schema.const !== undefined && value !== schema.const) errors.push(`${path}: expected ${JSON.stringify(schema.const)}`)
  if (schema.enum && !schema.enum.includes(value as string | number | boolean | null)) errors.push(`${path}: not one of ${JSON.stringify(schema.enum)}`)
  if (schema.minimum !== undefined && typeof value === 'number' && !(value >= schema.minimum)) errors.push(`${path}: ${value} < ${schema.minimum}`)
  if (typeof value === 'number' && !Number.isFinite(value)) errors.push(`${path}: not a finite number`)
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${path}: fewer than ${schema.minItems} items`)
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${path}: more than ${schema.maxItems} items`)
    if (schema.items) value.forEach((item, i) => check(root, schema.items!, item, `${path}[${i}]`, errors))
  } else if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>
    for (const key of schema.required ?? []) if (!(key in record)) errors.push(`${path}: missing ${key}`)
    for (const [key, child] of Object.entries(record)) {
      const propertySchema = schema.properties?.[key]
      if (propertySchema) check(root, propertySchema, child, `${path}.${key}`, errors)
      else if (schema.additionalProperties === false) errors.push(`${path}: unexpected property ${key}`)
      else if (typeof schema.additionalProperties === 'object') check(root, schema.additionalProperties, child, `${path}.${key}`, errors)
    }
  }
}

/** Problems found in `document` against `schema` (default: the report schema); empty when valid. */
export function validateAgainstSchema(document: unknown, schema: JsonSchema = BENCH_REPORT_JSON_SCHEMA): string[] {
  const errors: string[] = []
  check(schema, schema, document, '$', errors)
  return errors
}

/** Throws with every problem listed unless `document` is a valid report (e.g. a baseline file read from disk). */
export function assertValidReport(document: unknown): asserts document is BenchReport {
  const errors = validateAgainstSchema(document)
  if (errors.length > 0) throw new TypeError(`not a valid ringlog bench report:\n  ${errors.slice(0, 20).join('\n  ')}`)
}
