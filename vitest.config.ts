import { defineConfig } from 'vitest/config'

// Tests run against the TypeScript sources; worker threads load through a tsx shim
// (src/engine/channel/spawn-worker.ts) so a test never runs stale compiled code.
// Under CI a JSON report is written too, from which .ci/run prints its closing line.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/soak/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: process.env.CI ? { json: '.vitest-results.json' } : undefined,
  },
})
