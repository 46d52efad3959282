import { defineConfig } from 'vitest/config'

// `npm run test:soak`: the kill -9 loops and the wire fuzzer, run long. Never part of `npm test`,
// which runs the same tests with short defaults. About half an hour on 2 cores.
export default defineConfig({
  test: {
    include: ['test/crash/**/*.test.ts', 'test/fuzz/**/*.test.ts', 'test/groups/offsets-crash.test.ts'],
    // Long by default; each can be set from the shell (RINGLOG_KILL_ROUNDS=50 npm run test:soak).
    env: {
      RINGLOG_KILL_ROUNDS: process.env.RINGLOG_KILL_ROUNDS ?? '200',
      RINGLOG_FUZZ_MS: process.env.RINGLOG_FUZZ_MS ?? '600000',
      RINGLOG_FUZZ_CASES: process.env.RINGLOG_FUZZ_CASES ?? '2000000',
    },
    testTimeout: 60 * 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
  },
})
