/**
 * How long `startBroker()` takes, as a test suite's globalSetup sees it: each sample is a fresh
 * Node process that imports the compiled package, starts a broker (temp data dir, port 0),
 * connects a TCP socket to it, and stops it. Prints every sample and the medians of: import,
 * start (until startBroker resolved), and stop.
 *
 * With --cluster N: startBroker({ cluster: N }) (a private etcd and N broker processes) instead.
 *
 *   npm run build && npx tsx bench/start-broker.bench.ts [--runs 9] [--cluster 3]
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'

const ENTRY = new URL('../dist/index.js', import.meta.url).href
const { values } = parseArgs({ options: { runs: { type: 'string', default: '9' }, cluster: { type: 'string', default: '0' } } })
const RUNS = Number(values.runs)
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs must be a positive integer')
const CLUSTER = Number(values.cluster)
if (!Number.isInteger(CLUSTER) || CLUSTER < 0) throw new Error('--cluster must be a non-negative integer')
const OPTIONS = CLUSTER > 0 ? `{ cluster: ${CLUSTER}, logLevel: 'silent' }` : '{}'

const CHILD = `
import { connect } from 'node:net'
const t0 = performance.now()
const { startBroker } = await import(${JSON.stringify(ENTRY)})
const t1 = performance.now()
const broker = await startBroker(${OPTIONS})
const t2 = performance.now()
await new Promise((resolve, reject) => { const s = connect(broker.port, '127.0.0.1', () => { s.end(); resolve() }); s.on('error', reject) })
const t3 = performance.now()
await broker.stop()
const t4 = performance.now()
console.log(JSON.stringify({ importMs: t1 - t0, startMs: t2 - t1, stopMs: t4 - t3 }))
`

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const samples: { importMs: number; startMs: number; stopMs: number }[] = []
for (let i = 0; i < RUNS; i++) {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', CHILD], { cwd: fileURLToPath(new URL('..', import.meta.url)), timeout: 60_000 })
  const sample = JSON.parse(stdout.trim().split('\n').pop()!) as (typeof samples)[number]
  samples.push(sample)
  console.log(`run ${i + 1}: import ${sample.importMs.toFixed(0)} ms, startBroker ${sample.startMs.toFixed(0)} ms, stop ${sample.stopMs.toFixed(0)} ms`)
}
const f = (k: keyof (typeof samples)[number]): string => median(samples.map((s) => s[k])).toFixed(0)
console.log(`median of ${RUNS}: import ${f('importMs')} ms, startBroker ${f('startMs')} ms, import + start ${median(samples.map((s) => s.importMs + s.startMs)).toFixed(0)} ms, stop ${f('stopMs')} ms`)
