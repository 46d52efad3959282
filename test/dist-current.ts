/**
 * vitest globalSetup: the suite starts partition workers and CLI processes from the compiled
 * dist/ (see src/engine/channel/spawn-worker.ts), so dist/ must match src/. `npm test` builds first and
 * this finds nothing to do; a single `npx vitest run test/x.test.ts` after editing src/ rebuilds
 * here instead of testing stale code.
 * It also transpiles the TypeScript child scripts under test/ (kill-loop children, fixtures) to
 * tmp/test-build/ (test/child-script.ts starts them from there): a child then boots in about
 * 0.5 s instead of 1-2 s through tsx, which adds up over a kill loop's rounds.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const REPO = fileURLToPath(new URL('../', import.meta.url))

/** The compiled twin of src/<path>.ts: dist/<path>.js. */
function builtTwin(source: string): string {
  return join(REPO, 'dist', relative(join(REPO, 'src'), source)).replace(/\.ts$/, '.js')
}

/** Every .ts under src/ that tsc compiles (not declarations). */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sources(path)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : []
  })
}

/** The sources whose compiled twin is missing or older than them. */
function staleSources(): { missing: string[]; older: string[] } {
  const missing: string[] = []
  const older: string[] = []
  for (const source of sources(join(REPO, 'src'))) {
    let builtMs: number
    try {
      builtMs = statSync(builtTwin(source)).mtimeMs
    } catch {
      missing.push(source)
      continue
    }
    if (builtMs < statSync(source).mtimeMs) older.push(source)
  }
  return { missing, older }
}

/**
 * `npm run build` is incremental (tsBuildInfoFile dist/.tsbuildinfo): tsc re-emits only the
 * files whose content changed since the state that file records. So a missing twin (dist/ partly
 * deleted) gets a build from nothing, and a source that is newer yet unchanged in content (touched,
 * or checked out again) has its twin's time set after the build, or it would look stale forever.
 */
function rebuildDist(): void {
  const before = staleSources()
  const stale = [...before.missing, ...before.older]
  if (stale.length === 0) return
  process.stderr.write(`dist/ is older than ${relative(REPO, stale[0])}: rebuilding (npm run build) before the tests\n`)
  if (before.missing.length > 0) rmSync(join(REPO, 'dist', '.tsbuildinfo'), { force: true })
  execFileSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: REPO, stdio: 'inherit' })
  const after = staleSources()
  if (after.missing.length > 0) throw new Error(`npm run build did not write ${relative(REPO, builtTwin(after.missing[0]))}`)
  const now = new Date()
  for (const source of after.older) utimesSync(builtTwin(source), now, now)
}

/** Where test/child-script.ts finds the compiled twin of test/<path>.ts: tmp/test-build/test/<path>.js. */
export const TEST_BUILD = join(REPO, 'tmp', 'test-build')

/** Every .ts under test/ that is not itself a test file. */
function testScripts(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'fixtures' && dir === join(REPO, 'test') ? [] : testScripts(path)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts') ? [path] : []
  })
}

/**
 * Transpiles (no type check: tsc -p tsconfig.json does that) each stale test script to
 * tmp/test-build/test/, beside a link tmp/test-build/src -> dist, so their `../../src/x.js`
 * imports load the compiled sources unchanged.
 */
function buildTestScripts(): void {
  const link = join(TEST_BUILD, 'src')
  mkdirSync(TEST_BUILD, { recursive: true })
  try {
    symlinkSync(join('..', '..', 'dist'), link, 'dir')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  for (const source of testScripts(join(REPO, 'test'))) {
    const out = join(TEST_BUILD, relative(REPO, source)).replace(/\.ts$/, '.js')
    try {
      if (statSync(out).mtimeMs >= statSync(source).mtimeMs) continue
    } catch {
      // Not built yet.
    }
    const { outputText } = ts.transpileModule(readFileSync(source, 'utf8'), {
      fileName: source,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
    })
    mkdirSync(dirname(out), { recursive: true })
    // Temp then rename: a concurrent run never starts a half-written script.
    const temp = `${out}.${process.pid}.tmp`
    writeFileSync(temp, outputText)
    renameSync(temp, out)
  }
}

export default function setup(): void {
  rebuildDist()
  buildTestScripts()
}
