/**
 * The folder rules of docs/ARCHITECTURE.md, checked on the real import graph of src/:
 * no import cycles (type-only imports count: they are still a dependency between files),
 * broker/ and client/ never import each other, protocol/ does no I/O, nothing below core/
 * imports it, and cluster/ is loaded only from core/ or cli/.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const REPO = fileURLToPath(new URL('..', import.meta.url))
const SRC = join(REPO, 'src')

/** File (relative to src/, '/'-separated) -> what it imports: other src files, or bare specifiers (node:fs, msgpackr). */
type ImportGraph = Map<string, string[]>

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return /\.(ts|mts|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : []
  })
}

function toSrcPath(absolute: string): string {
  return relative(SRC, absolute).split('\\').join('/')
}

/** A relative specifier as written (`./x.js`) -> the src file it names, or a path outside src/ (`../native-bindings/...`). */
function resolveRelative(from: string, specifier: string, known: ReadonlySet<string>): string {
  const absolute = resolve(dirname(join(SRC, from)), specifier)
  const candidates = [absolute, absolute.replace(/\.js$/, '.ts'), absolute.replace(/\.mjs$/, '.mts')]
  for (const candidate of candidates) {
    const path = toSrcPath(candidate)
    if (known.has(path)) return path
  }
  return toSrcPath(absolute)
}

function buildGraph(): ImportGraph {
  const files = sourceFiles(SRC).map(toSrcPath)
  const known = new Set(files)
  const graph: ImportGraph = new Map()
  for (const file of files) {
    // preProcessFile sees static imports, `export ... from`, `import type` and literal dynamic imports.
    const info = ts.preProcessFile(readFileSync(join(SRC, file), 'utf8'), true, true)
    graph.set(file, info.importedFiles.map(({ fileName }) => (fileName.startsWith('.') ? resolveRelative(file, fileName, known) : fileName)))
  }
  return graph
}

/** Every strongly connected component with more than one file, or a file importing itself (Tarjan). */
function importCycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const cycles: string[][] = []
  let next = 0
  const visit = (node: string): void => {
    index.set(node, next)
    low.set(node, next)
    next++
    stack.push(node)
    onStack.add(node)
    for (const target of graph.get(node) ?? []) {
      if (!graph.has(target)) continue
      if (!index.has(target)) {
        visit(target)
        low.set(node, Math.min(low.get(node)!, low.get(target)!))
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!))
      }
    }
    if (low.get(node) !== index.get(node)) return
    const component: string[] = []
    let member: string
    do {
      member = stack.pop()!
      onStack.delete(member)
      component.push(member)
    } while (member !== node)
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) cycles.push(component.sort())
  }
  for (const node of graph.keys()) if (!index.has(node)) visit(node)
  return cycles
}

function folderOf(file: string): string {
  const slash = file.indexOf('/')
  return slash === -1 ? '' : file.slice(0, slash)
}

/** Node built-ins protocol/ may use: buffers and in-memory compression, nothing that reaches a file, socket or process. */
/** node:module only for createRequire, which loads the CommonJS zstd binding (no I/O of its own). */
const PROTOCOL_BUILTINS = new Set(['node:buffer', 'node:zlib', 'node:util', 'node:module'])
/** Packages protocol/ may use: checksums and codecs over memory. */
const PROTOCOL_PACKAGES = new Set(['@node-rs/crc32', 'lz4-napi', 'snappy', 'zstd-napi', 'zstd-napi/binding.js'])
/** The codec generator is a build-time tool (reads the vendored schemas, writes messages/); runtime code never loads it. */
const BUILD_TIME = /^protocol\/codegen\//
const BELOW_CORE = new Set(['protocol', 'storage', 'engine', 'groups', 'transactions'])

interface Violation { file: string; imports: string; rule: string }

function folderRuleViolations(graph: ImportGraph): Violation[] {
  const out: Violation[] = []
  for (const [file, imports] of graph) {
    const from = folderOf(file)
    for (const target of imports) {
      const to = graph.has(target) ? folderOf(target) : null
      const add = (rule: string): void => { out.push({ file, imports: target, rule }) }
      if ((from === 'broker' && to === 'client') || (from === 'client' && to === 'broker')) add('broker/ and client/ never import each other')
      if (BELOW_CORE.has(from) && to === 'core') add('nothing below core/ imports it')
      if (to === 'cluster' && from !== 'cluster' && from !== 'core' && from !== 'cli' && file !== 'start-broker.ts') add('cluster/ is loaded only from core/ or cli/ (and startBroker({ cluster }))')
      if (BUILD_TIME.test(target) && !BUILD_TIME.test(file)) add('runtime code never loads the codec generator')
      if (from === 'protocol' && !BUILD_TIME.test(file)) {
        const isAddon = target.startsWith('../native-bindings/')
        const allowed = target.startsWith('node:') ? PROTOCOL_BUILTINS.has(target) : PROTOCOL_PACKAGES.has(target)
        if (to === null && !isAddon && !allowed) {
          add('protocol/ does no I/O (node built-in or package outside its allowlist)')
        }
        if (to !== null && to !== 'protocol' && target !== 'errors.ts') add('protocol/ imports only itself and errors.ts (no I/O layers)')
      }
    }
  }
  return out
}

describe('architecture: the folder rules hold on the real import graph of src/', () => {
  const graph = buildGraph()

  it('sees the files and imports it checks', () => {
    expect(graph.get('core/node-context.ts')).toContain('engine/main/router.ts')
    expect(graph.get('engine/main/worker-channel.ts')).toContain('engine/channel/ring.ts')
    expect(graph.size).toBeGreaterThan(100)
  })

  it('has no import cycles', () => {
    expect(importCycles(graph)).toEqual([])
  })

  it('keeps broker/ and client/ apart, protocol/ free of I/O, core/ above storage/engine/protocol/groups, cluster/ behind core/ and cli/', () => {
    expect(folderRuleViolations(graph)).toEqual([])
  })
})

describe('architecture: the checks catch what they are for (synthetic graphs)', () => {
  it('reports a cycle, including one made of type-only imports', () => {
    const graph: ImportGraph = new Map([
      ['engine/log-engine.ts', ['engine/main/router.ts']],
      ['engine/main/router.ts', ['engine/log-engine.ts', 'node:os']],
      ['engine/channel/ring.ts', []],
    ])
    expect(importCycles(graph)).toEqual([['engine/log-engine.ts', 'engine/main/router.ts']])
  })

  it('reports each folder rule broken', () => {
    const graph: ImportGraph = new Map([
      ['client/admin.ts', ['broker/server.ts']],
      ['broker/server.ts', ['client/admin.ts']],
      ['storage/segment.ts', ['core/node-context.ts']],
      ['core/node-context.ts', ['cluster/controller.ts']],
      ['cluster/controller.ts', []],
      ['groups/group.ts', ['cluster/controller.ts']],
      ['protocol/frame.ts', ['node:net', 'node:buffer', 'storage/segment.ts', 'errors.ts']],
      ['protocol/wire.ts', ['node:fs', 'protocol/codegen/generate.ts']],
      ['protocol/codegen/generate.ts', ['node:fs']],
      ['errors.ts', []],
    ])
    expect(folderRuleViolations(graph).map((v) => `${v.file} -> ${v.imports}`)).toEqual([
      'client/admin.ts -> broker/server.ts',
      'broker/server.ts -> client/admin.ts',
      'storage/segment.ts -> core/node-context.ts',
      'groups/group.ts -> cluster/controller.ts',
      'protocol/frame.ts -> node:net',
      'protocol/frame.ts -> storage/segment.ts',
      'protocol/wire.ts -> node:fs',
      'protocol/wire.ts -> protocol/codegen/generate.ts',
    ])
  })
})
