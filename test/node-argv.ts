/**
 * Arguments for `node` (process.execPath) that start ringlog's CLI.
 * Under the suite's default (RINGLOG_WORKERS_FROM_BUILD=1, set in vitest.config.ts once dist/ is
 * current) the CLI runs compiled from bin/ringlog.js: about 0.5 s to start against 1.6-2.6 s
 * through tsx. RINGLOG_TEST_FROM_SOURCES=1 runs everything from the TypeScript sources. TypeScript
 * child scripts (test/crash, fixtures) run transpiled from tmp/test-build/ (test/dist-current.ts
 * builds them), importing dist/; the partition workers they start come from dist/ as well.
 */
import { existsSync } from 'node:fs'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = fileURLToPath(new URL('../', import.meta.url))

export const runsFromBuild = process.env.RINGLOG_WORKERS_FROM_BUILD === '1'

/** `ringlog <args>`: the compiled CLI, or src/cli/main.ts through tsx. */
export function ringlogArgv(args: readonly string[]): string[] {
  return runsFromBuild ? [`${REPO}bin/ringlog.js`, ...args] : ['--import', 'tsx', `${REPO}src/cli/main.ts`, ...args]
}


/**
 * `node <args>` for a TypeScript child script under test/ (given as a URL or an absolute path):
 * its transpiled twin in tmp/test-build/ (about 0.5 s to start), or the .ts through tsx
 * (1-2 s) under RINGLOG_TEST_FROM_SOURCES=1.
 */
export function childScriptArgv(script: URL | string, args: readonly string[]): string[] {
  const source = typeof script === 'string' ? script : fileURLToPath(script)
  if (!runsFromBuild) return ['--import', 'tsx', source, ...args]
  const built = `${REPO}tmp/test-build/${relative(REPO, source).replace(/\.ts$/, '.js')}`
  if (!existsSync(built)) throw new Error(`${built} is missing: test/dist-current.ts (the suite's globalSetup) builds it`)
  return [built, ...args]
}
