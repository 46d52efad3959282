import { defineConfig } from 'vitest/config'

// Long soaks and big fault loops: `npm run test:soak`, never part of `npm test`.
export default defineConfig({
  test: {
    include: ['test/soak/**/*.test.ts'],
    testTimeout: 30 * 60_000,
    pool: 'forks',
    maxWorkers: 1,
  },
})
