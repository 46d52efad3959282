/**
 * Turns the schema model into TypeScript: one interface per struct, a reader and a writer per
 * struct, and the exported decode/encode pair per message. Version tests are reduced to what the
 * implemented range needs, so a field present in every implemented version reads unconditionally.
 */
import {
  contains, isEmpty,
  type FieldDef, type FieldType, type MessageDef, type StructDef, type VersionRange,
} from './schema.js'

interface Ctx { msg: MessageDef; within: VersionRange }

/** The test for `r` within the implemented range: '' when always true. */
function versionTest(r: VersionRange, within: VersionRange): string {
  if (r.min === r.max && r.min > within.min && r.max < within.max) return `version === ${r.min}`
  const parts: string[] = []
  if (r.min > within.min) parts.push(`version >= ${r.min}`)
  if (r.max < within.max) parts.push(`version <= ${r.max}`)
  return parts.join(' && ')
}

function describeVersions(r: VersionRange, within: VersionRange): string {
  if (r.min === r.max) return `v${r.min}`
  return r.max >= within.max ? `v${r.min}+` : `v${r.min}-${r.max}`
}

const FIXED_SIZE: Record<string, number> = { bool: 1, int8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, float64: 8, uuid: 16 }

function baseType(t: FieldType): string {
  if (t.kind === 'array') return `${baseType(t.element)}[]`
  if (t.kind === 'struct') return t.struct.name
  switch (t.name) {
    case 'bool': return 'boolean'
    case 'string': case 'uuid': return 'string'
    case 'bytes': case 'records': return 'Buffer'
    default: return 'number'
  }
}

function canBeNull(f: FieldDef): boolean { return !isEmpty(f.nullableVersions) || f.defaultValue === null }

function literal(value: unknown, t: FieldType): string {
  if (value === null) return 'null'
  if (t.kind === 'array') return '[]'
  if (t.kind === 'struct') {
    const o = value as Record<string, unknown>
    return `{ ${t.struct.fields.map((f) => `${f.name}: ${literal(o[f.name], f.type)}`).join(', ')} }`
  }
  if (t.name === 'uuid') return 'ZERO_UUID'
  if (t.name === 'bytes') return 'Buffer.alloc(0)'
  return typeof value === 'string' ? `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : String(value)
}

/** 'never', 'always' or a version test, for a field's nullability. */
function nullability(f: FieldDef, ctx: Ctx): string {
  if (isEmpty(f.nullableVersions)) return 'never'
  const test = versionTest(f.nullableVersions, { min: Math.max(ctx.within.min, f.versions.min), max: Math.min(ctx.within.max, f.versions.max) })
  return test === '' ? 'always' : test
}

function readExpr(t: FieldType, nullable: string, r: string): string {
  if (t.kind === 'struct') return `read${t.struct.name}(${r}, version)`
  if (t.kind === 'array') {
    const minSize = t.element.kind === 'primitive' ? FIXED_SIZE[t.element.name] ?? 1 : 1
    const element = readExpr(t.element, 'never', r)
    const call = (method: string) => `${r}.${method}(flexible, ${minSize}, () => ${element})`
    return pickByNullability(nullable, call('nullableArray'), call('array'))
  }
  const varLength: Record<string, string> = { string: 'String', bytes: 'Bytes', records: 'Records' }
  const name = varLength[t.name]
  if (name) return pickByNullability(nullable, `${r}.nullable${name}(flexible)`, `${r}.${t.name}(flexible)`)
  return `${r}.${t.name}()`
}

function pickByNullability(nullable: string, ifNull: string, ifNotNull: string): string {
  if (nullable === 'never') return ifNotNull
  if (nullable === 'always') return ifNull
  return `${nullable} ? ${ifNull} : ${ifNotNull}`
}

function writeStmt(t: FieldType, value: string, nullable: string): string {
  const nullArg = nullable === 'never' ? '' : nullable === 'always' ? ', true' : `, ${nullable}`
  if (t.kind === 'struct') return `write${t.struct.name}(w, version, ${value})`
  if (t.kind === 'array') {
    const element = writeStmt(t.element, 'e', 'never')
    return `w.array(flexible, ${value}, (e) => ${element}${nullArg})`
  }
  if (t.name === 'string') return `w.string(flexible, ${value}${nullArg})`
  if (t.name === 'bytes' || t.name === 'records') return `w.bytes(flexible, ${value}${nullArg})`
  return `w.${t.name}(${value})`
}

/** The value to write for field `f` of input object `m`: the schema default when absent. */
function inputValue(f: FieldDef, m: string): string {
  const access = `${m}.${f.name}`
  if (f.type.kind === 'struct') return `${access} ?? {}`
  if (f.defaultValue === null) return `${access} ?? null`
  const d = literal(f.defaultValue, f.type)
  return isEmpty(f.nullableVersions) ? `${access} ?? ${d}` : `(${access} === undefined ? ${d} : ${access})`
}

/** True when the (possibly absent) input value differs from the field's default. */
function differsFromDefault(f: FieldDef, access: string): string {
  const t = f.type
  const nullable = canBeNull(f)
  if (t.kind === 'struct') {
    return `${access} !== undefined && (${t.struct.fields.map((s) => `(${differsFromDefault(s, `${access}.${s.name}`)})`).join(' || ')})`
  }
  if (f.defaultValue === null) return `${access} !== undefined && ${access} !== null`
  const sized = t.kind === 'array' || (t.kind === 'primitive' && t.name === 'bytes')
  if (sized) return `${access} !== undefined && (${nullable ? `${access} === null || ` : ''}${access}.length > 0)`
  return `${access} !== undefined && ${access} !== ${literal(f.defaultValue, t)}`
}

function emitInterface(s: StructDef, ctx: Ctx): string {
  const lines = [`export interface ${s.name} {`]
  for (const f of s.fields) {
    const notes = [f.tag === null ? describeVersions(f.versions, ctx.within) : `tagged ${f.tag}, ${describeVersions(f.versions, ctx.within)}`]
    if (!isEmpty(f.nullableVersions)) notes.push(`nullable ${describeVersions(f.nullableVersions, ctx.within)}`)
    lines.push(`  /** ${f.about ? `${f.about.replace(/\*\//g, '* /')} ` : ''}(${notes.join('; ')}) */`)
    lines.push(`  ${f.name}: ${baseType(f.type)}${canBeNull(f) ? ' | null' : ''}`)
  }
  lines.push('}')
  return lines.join('\n')
}

function flexibleTest(ctx: Ctx): string {
  const flex = ctx.msg.flexibleVersions
  if (isEmpty(flex) || flex.min > ctx.within.max) return 'false'
  return flex.min <= ctx.within.min ? 'true' : `version >= ${flex.min}`
}

function emitReader(s: StructDef, ctx: Ctx, exported: boolean): string {
  const fn = exported ? `export function decode${s.name}` : `function read${s.name}`
  const lines = [`${fn}(r: Reader, version: number): ${s.name} {`]
  if (exported) {
    lines.push(`  if (!(version >= MIN_VERSION && version <= MAX_VERSION)) throw new ProtocolDecodeError(\`${s.name} v\${version} is not supported\`)`)
  }
  lines.push(`  const flexible = ${flexibleTest(ctx)}`)
  lines.push(`  const m: ${s.name} = {`)
  for (const f of s.fields) {
    const fallback = literal(f.defaultValue, f.type)
    if (f.tag !== null) { lines.push(`    ${f.name}: ${fallback},`); continue }
    const test = versionTest(f.versions, ctx.within)
    const read = readExpr(f.type, nullability(f, ctx), 'r')
    const nested = read.includes(' ? ') ? `(${read})` : read
    lines.push(`    ${f.name}: ${test === '' ? read : `${test} ? ${nested} : ${fallback}`},`)
  }
  lines.push('  }')
  const tagged = s.fields.filter((f) => f.tag !== null)
  if (tagged.length === 0) lines.push('  if (flexible) r.taggedFields()')
  else {
    lines.push('  if (flexible) {')
    lines.push('    r.taggedFields((tag, t) => {')
    tagged.forEach((f, i) => {
      const test = versionTest(f.versions, ctx.within)
      const cond = `tag === ${f.tag}${test === '' ? '' : ` && ${test}`}`
      lines.push(`      ${i === 0 ? 'if' : 'else if'} (${cond}) m.${f.name} = ${readExpr(f.type, nullability(f, ctx), 't')}`)
    })
    lines.push('    })')
    lines.push('  }')
  }
  lines.push('  return m')
  lines.push('}')
  return lines.join('\n')
}

function emitWriter(s: StructDef, ctx: Ctx, exported: boolean): string {
  const fn = exported ? `export function encode${s.name}` : `function write${s.name}`
  const lines = [`${fn}(w: Writer, version: number, m: EncodeInput<${s.name}>): void {`]
  if (exported) {
    lines.push(`  if (!(version >= MIN_VERSION && version <= MAX_VERSION)) throw new ProtocolEncodeError(\`${s.name} v\${version} is not supported\`)`)
  }
  lines.push(`  const flexible = ${flexibleTest(ctx)}`)
  const fieldPath = (f: FieldDef) => `'${s.name}.${f.schemaName}'`
  for (const f of s.fields) {
    const test = versionTest(f.versions, ctx.within)
    const guard = !f.ignorable && test !== ''
      ? `if (!(${test}) && ${differsFromDefault(f, `m.${f.name}`)}) throw fieldNotInVersion(${fieldPath(f)}, version)`
      : ''
    if (f.tag !== null) { if (guard) lines.push(`  ${guard}`); continue }
    const write = writeStmt(f.type, inputValue(f, 'm'), nullability(f, ctx))
    if (test === '') lines.push(`  ${write}`)
    else {
      lines.push(`  if (${test}) ${write}`)
      if (guard) lines.push(`  else if (${differsFromDefault(f, `m.${f.name}`)}) throw fieldNotInVersion(${fieldPath(f)}, version)`)
    }
  }
  const tagged = [...s.fields.filter((f) => f.tag !== null)].sort((a, b) => (a.tag ?? 0) - (b.tag ?? 0))
  if (tagged.length === 0) lines.push('  if (flexible) w.uvarint(0)')
  else {
    lines.push('  if (flexible) {')
    for (const f of tagged) {
      const test = versionTest(f.versions, ctx.within)
      lines.push(`    const has${f.schemaName} = ${test === '' ? '' : `${test} && `}${differsFromDefault(f, `m.${f.name}`)}`)
    }
    lines.push(`    w.uvarint(${tagged.map((f) => `Number(has${f.schemaName})`).join(' + ')})`)
    for (const f of tagged) {
      lines.push(`    if (has${f.schemaName}) w.taggedField(${f.tag}, () => ${writeStmt(f.type, inputValue(f, 'm'), nullability(f, ctx))})`)
    }
    lines.push('  }')
  }
  lines.push('}')
  return lines.join('\n')
}

/** Structs in reading order: each one followed by the ones nested in it. */
function structsInOrder(fields: FieldDef[], seen = new Set<string>()): StructDef[] {
  const out: StructDef[] = []
  for (const f of fields) {
    const t = f.type.kind === 'array' ? f.type.element : f.type
    if (t.kind !== 'struct' || seen.has(t.struct.name)) continue
    seen.add(t.struct.name)
    out.push(t.struct, ...structsInOrder(t.struct.fields, seen))
  }
  return out
}

/**
 * Every array element must take at least one byte in every version it is read in, or a claimed
 * count could spin a decoder without consuming input. The readers rely on this.
 */
export function checkArraysConsumeInput(msg: MessageDef): void {
  const walk = (fields: FieldDef[]) => {
    for (const f of fields) {
      if (f.type.kind === 'array' && f.type.element.kind === 'struct') {
        const element = f.type.element.struct
        for (let v = f.versions.min; v <= f.versions.max; v++) {
          const flexible = contains(msg.flexibleVersions, v)
          if (!flexible && !element.fields.some((e) => e.tag === null && contains(e.versions, v))) {
            throw new Error(`${msg.name}: ${element.name} is empty on the wire in v${v}`)
          }
        }
      }
      const t = f.type.kind === 'array' ? f.type.element : f.type
      if (t.kind === 'struct') walk(t.struct.fields)
    }
  }
  walk(msg.fields)
}

export function emitMessage(msg: MessageDef): string {
  const ctx: Ctx = { msg, within: msg.versions }
  const top: StructDef = { name: msg.name, fields: msg.fields }
  const nested = structsInOrder(msg.fields)
  const parts = [emitInterface(top, ctx), ...nested.map((s) => emitInterface(s, ctx))]
  parts.push(...nested.map((s) => emitReader(s, ctx, false)), emitReader(top, ctx, true))
  parts.push(...nested.map((s) => emitWriter(s, ctx, false)), emitWriter(top, ctx, true))
  return parts.join('\n\n')
}

/** Names a message file declares, to catch a request and a response struct sharing a name. */
export function declaredNames(msg: MessageDef): string[] {
  return [msg.name, ...structsInOrder(msg.fields).map((s) => s.name)]
}
