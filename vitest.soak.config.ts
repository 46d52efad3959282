import { defineConfig } from 'vitest/config'
import { SOAK_ONLY } from './vitest.config.js'

// `npm run test:soak`: the kill -9 loops and the wire fuzzer, run long, and the statistical and
// wall-clock checks (test/soak/) that a loaded machine could fail. Never part of `npm test`,
// which runs the same kill and fuzz tests with short defaults. About half an hour on 2 cores.
// Workers and CLI processes start from dist/ as in vitest.config.ts (RINGLOG_TEST_FROM_SOURCES=1: from sources).
const fromSources = process.env.RINGLOG_TEST_FROM_SOURCES === '1'

export default defineConfig({
  test: {
    include: ['test/crash/**/*.test.ts', 'test/fuzz/**/*.test.ts', 'test/groups/offsets-crash.test.ts', 'test/engine/cleaner-kill.test.ts', 'test/soak/**/*.test.ts', 'test/compat/kafkajs.test.ts', ...SOAK_ONLY],
    globalSetup: fromSources ? [] : ['test/dist-current.ts'],
    // Long by default; each can be set from the shell (RINGLOG_KILL_ROUNDS=50 npm run test:soak).
    env: {
      ...(fromSources ? {} : { RINGLOG_WORKERS_FROM_BUILD: '1' }),
      RINGLOG_KILL_ROUNDS: process.env.RINGLOG_KILL_ROUNDS ?? '200',
      RINGLOG_FUZZ_MS: process.env.RINGLOG_FUZZ_MS ?? '600000',
      RINGLOG_FUZZ_CASES: process.env.RINGLOG_FUZZ_CASES ?? '2000000',
      RINGLOG_CLEANER_KILLS: process.env.RINGLOG_CLEANER_KILLS ?? '15',
      RINGLOG_KAFKAJS_RECORDS: process.env.RINGLOG_KAFKAJS_RECORDS ?? '100000',
    },
    testTimeout: 60 * 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
  },
})
