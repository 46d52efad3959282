/**
 * vitest globalSetup: the suite starts partition workers and CLI processes from the compiled
 * dist/ (see src/engine/spawn-worker.ts), so dist/ must match src/. `npm test` builds first and
 * this finds nothing to do; a single `npx vitest run test/x.test.ts` after editing src/ rebuilds
 * here instead of testing stale code.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = fileURLToPath(new URL('../', import.meta.url))

/** The first source file whose compiled twin is missing or older than it, if any. */
function staleSource(dir: string): string | undefined {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      const stale = staleSource(path)
      if (stale) return stale
      continue
    }
    if (!entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue
    const built = join(REPO, 'dist', relative(join(REPO, 'src'), path)).replace(/\.ts$/, '.js')
    let builtMs: number
    try {
      builtMs = statSync(built).mtimeMs
    } catch {
      return path
    }
    if (builtMs < statSync(path).mtimeMs) return path
  }
  return undefined
}

export default function setup(): void {
  const stale = staleSource(join(REPO, 'src'))
  if (stale === undefined) return
  process.stderr.write(`dist/ is older than ${relative(REPO, stale)}: rebuilding (npm run build) before the tests\n`)
  execFileSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: REPO, stdio: 'inherit' })
}
