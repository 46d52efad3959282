#!/usr/bin/env node
// `npm run bench:micro`: every bench/micro/*.bench.ts in turn (name order), each in its own
// process through tsx; extra arguments go to each bench. Exits non-zero if any bench fails.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const benches = readdirSync(here).filter((name) => name.endsWith('.bench.ts')).sort()
let failed = 0
for (const name of benches) {
  console.error(`\n== ${name}`)
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(here, name), ...process.argv.slice(2)], { stdio: 'inherit' })
  if (run.status !== 0) {
    console.error(`${name} failed (${run.signal ?? `exit ${run.status}`})`)
    failed++
  }
}
process.exit(failed === 0 ? 0 : 1)
