import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { defineConfig } from 'vitest/config'
import { ProcessHeavyFirst } from './test/process-heavy-first.js'

// Tests import the TypeScript sources. Partition workers and CLI child processes start from the
// compiled dist/ instead (0.2 s a worker against 1.8 s through the tsx shim in
// src/engine/channel/spawn-worker.ts); test/dist-current.ts rebuilds dist/ first if it is older than src/.
// RINGLOG_TEST_FROM_SOURCES=1 runs everything from sources, slower, with no build.
// Under CI a JSON report is written too, from which .ci/run prints its closing line.
const fromSources = process.env.RINGLOG_TEST_FROM_SOURCES === '1'

/** Tests of a minute or so each, kept out of `npm test` and run by `npm run test:soak`. */
export const SOAK_ONLY = [
  'test/cluster/etcd-outage-load.test.ts',
  'test/cluster/clients-failover.test.ts',
  'test/cluster/whole-cluster-restart.test.ts',
  'test/cluster/offsets-cluster-restart.test.ts',
  'test/cluster/idempotent-failover-dedup.test.ts',
]

const EXCLUDE = ['test/soak/**', 'node_modules/**', ...SOAK_ONLY]

/**
 * What makes a test file unsafe to share a process with other files: module mocks and spies
 * (they patch modules every later file would import), fake timers, and writes to process.env,
 * globals or the working directory (a later file would see them).
 */
const SHARED_STATE = [
  /\bvi\.(mock|doMock|spyOn|useFakeTimers|stubEnv|stubGlobal)\(/,
  /\bprocess\.env(\.\w+|\[[^\]]+\])\s*=[^=]/,
  /\bdelete\s+process\.env\b/,
  /\bglobalThis(\.\w+|\[[^\]]+\])\s*=[^=]/,
  /\bprocess\.chdir\(/,
]

/** Test files found by scanning their sources, so that a new such file is isolated with no list to keep. */
function isolatedTestFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return isolatedTestFiles(path)
    if (!entry.name.endsWith('.test.ts')) return []
    const source = readFileSync(path, 'utf8')
    return SHARED_STATE.some((pattern) => pattern.test(source)) ? [relative(import.meta.dirname, path)] : []
  })
}

/**
 * Files kept in a fresh process though their sources show none of the above: none now.
 * ring.threads (it counts the process's pending Atomics.waitAsync calls) was one until closing the
 * engine woke parked long polls: a stopped broker's fetch wait stayed pending until its timeout
 * and showed as 1 in the next file of the same process. consumer-offsets-failover never was: its
 * "a member listed twice" failure came back in its own process too, so sharing is not its cause.
 */
const ALSO_ISOLATED: string[] = []

const ISOLATED = [...isolatedTestFiles(join(import.meta.dirname, 'test')), ...ALSO_ISOLATED]

export default defineConfig({
  test: {
    // The long cluster scenarios run under `npm run test:soak` only (each has a quicker sibling
    // here: etcd-outage, cluster-replication, consumer-offsets-failover; the kill loop, the group
    // failover and the idempotent dedup across leader stops run only there).
    globalSetup: fromSources ? [] : ['test/dist-current.ts'],
    // Few offsets-topic partitions keep brokers started by tests quick (Kafka's default is 50).
    env: { ...(fromSources ? {} : { RINGLOG_WORKERS_FROM_BUILD: '1' }), RINGLOG_OFFSETS_TOPIC_NUM_PARTITIONS: '3' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Three at once on 2 cores: most files wait on child processes (brokers, etcd, clients) much of
    // the time. Measured on an idle 2-core machine (2026-12-06): 2 workers 254 s, 3 workers 189 s,
    // 4 workers 189 s with more CPU. RINGLOG_TEST_WORKERS overrides (vitest's --maxWorkers does not
    // reach the projects below, which inherit this value).
    maxWorkers: Number(process.env.RINGLOG_TEST_WORKERS ?? 3),
    // With no durations cached (a fresh clone), the files starting the most processes go first.
    sequence: { sequencer: ProcessHeavyFirst },
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: process.env.CI ? { json: '.vitest-results.json' } : undefined,
    // Most files run one after another in a reused process (isolate: false): their imports are
    // loaded once per process instead of once per file, seconds a file. The files that patch
    // modules or globals keep a fresh process each.
    projects: [
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: [...EXCLUDE, ...ISOLATED], isolate: false } },
      { extends: true, test: { name: 'isolated', include: ISOLATED, exclude: EXCLUDE, isolate: true } },
    ],
  },
})
