/**
 * Arguments for `node` (process.execPath) that start ringlog's CLI.
 * Under the suite's default (RINGLOG_WORKERS_FROM_BUILD=1, set in vitest.config.ts once dist/ is
 * current) the CLI runs compiled from bin/ringlog.js: about 0.5 s to start against 1.6-2.6 s
 * through tsx. RINGLOG_TEST_FROM_SOURCES=1 runs everything from the TypeScript sources. TypeScript
 * child scripts (test/crash) still run through tsx; the partition workers they start come from
 * dist/ all the same, as they inherit the environment.
 */
import { fileURLToPath } from 'node:url'

const REPO = fileURLToPath(new URL('../', import.meta.url))

export const runsFromBuild = process.env.RINGLOG_WORKERS_FROM_BUILD === '1'

/** `ringlog <args>`: the compiled CLI, or src/cli/main.ts through tsx. */
export function ringlogArgv(args: readonly string[]): string[] {
  return runsFromBuild ? [`${REPO}bin/ringlog.js`, ...args] : ['--import', 'tsx', `${REPO}src/cli/main.ts`, ...args]
}

