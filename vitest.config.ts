import { defineConfig } from 'vitest/config'

// Tests import the TypeScript sources. Partition workers and CLI child processes start from the
// compiled dist/ instead (0.2 s a worker against 1.8 s through the tsx shim in
// src/engine/channel/spawn-worker.ts); test/dist-current.ts rebuilds dist/ first if it is older than src/.
// RINGLOG_TEST_FROM_SOURCES=1 runs everything from sources, slower, with no build.
// Under CI a JSON report is written too, from which .ci/run prints its closing line.
const fromSources = process.env.RINGLOG_TEST_FROM_SOURCES === '1'

/** Tests of a minute or so each, kept out of `npm test` (about 6.5 minutes) and run by `npm run test:soak`. */
export const SOAK_ONLY = [
  'test/cluster/etcd-outage-load.test.ts',
  'test/cluster/clients-failover.test.ts',
  'test/cluster/whole-cluster-restart.test.ts',
  'test/cluster/offsets-cluster-restart.test.ts',
  'test/cluster/idempotent-failover-dedup.test.ts',
]

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The long cluster scenarios run under `npm run test:soak` only (each has a quicker sibling
    // here: etcd-outage, cluster-replication, consumer-offsets-failover; the kill loop, the group
    // failover and the idempotent dedup across leader stops run only there).
    exclude: ['test/soak/**', 'node_modules/**', ...SOAK_ONLY],
    globalSetup: fromSources ? [] : ['test/dist-current.ts'],
    // Few offsets-topic partitions keep brokers started by tests quick (Kafka's default is 50).
    env: { ...(fromSources ? {} : { RINGLOG_WORKERS_FROM_BUILD: '1' }), RINGLOG_OFFSETS_TOPIC_NUM_PARTITIONS: '3' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: process.env.CI ? { json: '.vitest-results.json' } : undefined,
  },
})
