// Builds the optional sendfile addon offline against this Node's own headers.
// The project works without it (fetches fall back to fs read streams), so a failed
// build is reported and never fails `npm install`.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
if (!existsSync(join(here, 'binding.gyp'))) process.exit(0)
const nodedir = resolve(process.execPath, '../..')
const npmGyp = join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js')
const cmd = existsSync(npmGyp) ? [process.execPath, npmGyp] : ['node-gyp']
const r = spawnSync(cmd[0], [...cmd.slice(1), 'rebuild', '-C', here, `--nodedir=${nodedir}`], { stdio: 'inherit' })
if (r.status !== 0) console.warn('ringlog: native sendfile addon not built; fetches use the JS stream fallback')
