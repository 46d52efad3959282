/**
 * Reads Kafka's JSON message schemas into a small model the emitter (and the codec tests)
 * work from: version ranges already clipped to the range ringlog implements, struct
 * references resolved, defaults turned into values.
 */
import { Buffer } from 'node:buffer'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** Inclusive; `max` is Infinity for an open range ("3+"), and min > max means "none". */
export interface VersionRange { min: number; max: number }

export const NO_VERSIONS: VersionRange = { min: 1, max: 0 }

export function parseVersions(spec: string | undefined): VersionRange {
  if (spec === undefined || spec === 'none') return NO_VERSIONS
  const open = /^(\d+)\+$/.exec(spec)
  if (open) return { min: Number(open[1]), max: Infinity }
  const closed = /^(\d+)-(\d+)$/.exec(spec)
  if (closed) return { min: Number(closed[1]), max: Number(closed[2]) }
  if (/^\d+$/.test(spec)) return { min: Number(spec), max: Number(spec) }
  throw new Error(`bad version spec ${JSON.stringify(spec)}`)
}

export function intersect(a: VersionRange, b: VersionRange): VersionRange {
  return { min: Math.max(a.min, b.min), max: Math.min(a.max, b.max) }
}

export function isEmpty(r: VersionRange): boolean { return r.min > r.max }

export function contains(r: VersionRange, version: number): boolean { return version >= r.min && version <= r.max }

export type PrimitiveName =
  'bool' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'float64' | 'string' | 'uuid' | 'bytes' | 'records'

const PRIMITIVES = new Set<string>(['bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'string', 'uuid', 'bytes', 'records'])

export type FieldType =
  | { kind: 'primitive'; name: PrimitiveName }
  | { kind: 'array'; element: FieldType }
  | { kind: 'struct'; struct: StructDef }

export interface StructDef { name: string; fields: FieldDef[] }

export interface FieldDef {
  /** camelCase, as in the generated interfaces. */
  name: string
  schemaName: string
  type: FieldType
  /** All ranges are clipped to the implemented range; fields outside it are dropped. */
  versions: VersionRange
  nullableVersions: VersionRange
  /** Set for a tagged field (then `versions` equals the tagged versions). */
  tag: number | null
  ignorable: boolean
  /** The value a decoder yields when the field is absent (a struct: an object of defaults). */
  defaultValue: unknown
  about: string
}

export interface MessageDef {
  name: string
  apiKey: number
  kind: 'request' | 'response'
  schemaFile: string
  /** The implemented range (a subset of the schema's validVersions). */
  versions: VersionRange
  flexibleVersions: VersionRange
  fields: FieldDef[]
  /** Every struct defined in the message, nested ones first, each name once. */
  structs: StructDef[]
}

interface RawField {
  name: string
  type: string
  versions?: string
  nullableVersions?: string
  taggedVersions?: string
  tag?: number
  default?: string | number | boolean
  ignorable?: boolean
  flexibleVersions?: string
  about?: string
  fields?: RawField[]
}

export interface RawMessage {
  apiKey?: number
  type: string
  name: string
  validVersions: string
  flexibleVersions: string
  fields: RawField[]
  commonStructs?: { name: string; versions?: string; fields: RawField[] }[]
}

/** Kafka's schema files are JSON with whole-line `//` comments. */
export function readSchemaFile(dir: string, file: string): RawMessage {
  const text = readFileSync(join(dir, file), 'utf8')
  return JSON.parse(text.split('\n').filter((line) => !/^\s*\/\//.test(line)).join('\n')) as RawMessage
}

export function camelCase(name: string): string { return name[0].toLowerCase() + name.slice(1) }

function defaultFor(type: FieldType, raw: RawField['default'], where: string): unknown {
  if (type.kind === 'array') return []
  if (type.kind === 'struct') return Object.fromEntries(type.struct.fields.map((f) => [f.name, f.defaultValue]))
  switch (type.name) {
    case 'bool': return raw === undefined ? false : raw === true || raw === 'true'
    case 'string': return raw === undefined ? '' : raw === 'null' ? null : String(raw)
    case 'uuid': return 'AAAAAAAAAAAAAAAAAAAAAA'
    case 'bytes': return Buffer.alloc(0)
    case 'records': return null
    default: {
      const n = raw === undefined ? 0 : Number(raw)
      if (!Number.isFinite(n)) throw new Error(`${where}: bad default ${JSON.stringify(raw)}`)
      return n
    }
  }
}

/**
 * Builds the model of one request or response schema for the versions in `implemented`.
 * Throws on anything the emitter does not handle, so a schema change cannot slip through as
 * silently wrong code.
 */
export function buildMessage(raw: RawMessage, schemaFile: string, implemented: VersionRange): MessageDef {
  const valid = parseVersions(raw.validVersions)
  if (implemented.min < valid.min || implemented.max > valid.max) {
    throw new Error(`${raw.name}: versions ${implemented.min}-${implemented.max} outside validVersions ${raw.validVersions}`)
  }
  const flexibleVersions = parseVersions(raw.flexibleVersions)
  const common = new Map((raw.commonStructs ?? []).map((s) => [s.name, s]))
  const structs = new Map<string, StructDef>()

  // Struct fields are clipped to the implemented range, not to the parent field's versions:
  // a common struct may be used under parents with different ranges.
  const buildStruct = (name: string, rawFields: RawField[]): StructDef => {
    if (structs.has(name)) throw new Error(`${raw.name}: struct ${name} defined twice`)
    const struct: StructDef = { name, fields: [] }
    for (const f of rawFields) {
      const field = buildField(f, implemented, `${name}.${f.name}`)
      if (field) struct.fields.push(field)
    }
    structs.set(name, struct)
    return struct
  }

  const resolveType = (f: RawField, where: string): FieldType => {
    const isArray = f.type.startsWith('[]')
    const base = isArray ? f.type.slice(2) : f.type
    let element: FieldType
    if (PRIMITIVES.has(base)) element = { kind: 'primitive', name: base as PrimitiveName }
    else {
      const existing = structs.get(base)
      if (existing && !f.fields) element = { kind: 'struct', struct: existing }
      else {
        const fields = f.fields ?? common.get(base)?.fields
        if (!fields) throw new Error(`${where}: unknown type ${f.type}`)
        element = { kind: 'struct', struct: buildStruct(base, fields) }
      }
    }
    return isArray ? { kind: 'array', element } : element
  }

  const buildField = (f: RawField, within: VersionRange, where: string): FieldDef | null => {
    const versions = intersect(parseVersions(f.versions), within)
    if (isEmpty(versions)) return null
    if (f.flexibleVersions !== undefined) throw new Error(`${where}: per-field flexibleVersions is not supported`)
    const type = resolveType(f, where)
    let tag: number | null = null
    if (f.tag !== undefined) {
      const tagged = intersect(parseVersions(f.taggedVersions), within)
      if (tagged.min !== versions.min || tagged.max !== versions.max) throw new Error(`${where}: taggedVersions must equal versions`)
      if (versions.min < flexibleVersions.min) throw new Error(`${where}: tagged in a non-flexible version`)
      tag = f.tag
    }
    const field: FieldDef = {
      name: camelCase(f.name),
      schemaName: f.name,
      type,
      versions,
      nullableVersions: intersect(parseVersions(f.nullableVersions), versions),
      tag,
      ignorable: f.ignorable === true,
      defaultValue: undefined,
      about: (f.about ?? '').replace(/\s+/g, ' ').trim(),
    }
    field.defaultValue = defaultFor(type, f.default, where)
    return field
  }

  const fields: FieldDef[] = []
  for (const f of raw.fields) {
    const field = buildField(f, implemented, `${raw.name}.${f.name}`)
    if (field) fields.push(field)
  }
  if (raw.type !== 'request' && raw.type !== 'response') throw new Error(`${raw.name}: not a request or response`)
  if (raw.apiKey === undefined) throw new Error(`${raw.name}: no apiKey`)
  return {
    name: raw.name, apiKey: raw.apiKey, kind: raw.type, schemaFile, versions: implemented, flexibleVersions,
    fields, structs: [...structs.values()],
  }
}
