/**
 * What metrics cost produce throughput: a same-run A/B of the standard `ringlog bench produce`
 * (tcp, the loadgen producer, 100-byte records, acks=all, flush never) against two compiled
 * `ringlog serve` processes started side by side, one without metrics and one with
 * --metrics-port and a scraper reading /metrics every second (as Prometheus would). The two
 * are run alternately (ABBA order, so drift hits both alike) and only one is loaded at a time.
 * Prints each run's records/s and the broker's CPU seconds per million records (utime+stime of
 * the serve process from /proc, all threads: steadier than records/s on a shared machine),
 * the medians and on/off.
 *
 *   npm run build && npx tsx bench/metrics-cost.bench.ts [--runs 6] [--records 300000]
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'

const CLI = fileURLToPath(new URL('../bin/ringlog.js', import.meta.url))
const { values } = parseArgs({ options: { runs: { type: 'string', default: '6' }, records: { type: 'string', default: '300000' } } })
const RUNS = Number(values.runs)
const RECORDS = Number(values.records)
if (!Number.isInteger(RUNS) || RUNS < 1 || !Number.isInteger(RECORDS) || RECORDS < 1) throw new Error('--runs and --records must be positive integers')

interface Served { child: ChildProcess; address: string; metricsPort?: number }

function serve(dir: string, extra: string[]): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dir, '--flush', 'never', '--log-level', 'warn', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`serve exited ${code}`)))
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening on ([\d.]+:\d+)/.exec(out)
      if (!m) return
      const metrics = /metrics on http:\/\/[\d.]+:(\d+)/.exec(out)
      resolve({ child, address: m[1], metricsPort: metrics ? Number(metrics[1]) : undefined })
    })
  })
}

async function produce(address: string, reportFile: string): Promise<number> {
  await promisify(execFile)(process.execPath, [CLI, 'bench', 'produce', '--brokers', address, '--records', String(RECORDS), '--reps', '1', '--warmups', '0', '--json', reportFile], { timeout: 600_000 })
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { scenarios: { summary: { recordsPerSec: { median: number } } }[] }
  return report.scenarios[0].summary.recordsPerSec.median
}

/** utime + stime of a process, all threads, in seconds (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const dir = mkdtempSync(join(tmpdir(), 'ringlog-metrics-cost-'))
const off = await serve(join(dir, 'off'), [])
const on = await serve(join(dir, 'on'), ['--metrics-port', '0'])
let scrapes = 0
const scraper = setInterval(() => {
  fetch(`http://127.0.0.1:${on.metricsPort}/metrics`).then((r) => r.text()).then(() => { scrapes++ }, () => undefined)
}, 1000)
const results: { off: number[]; on: number[] } = { off: [], on: [] }
const cpu: { off: number[]; on: number[] } = { off: [], on: [] }
try {
  for (let i = 0; i < RUNS; i++) {
    const order: ('off' | 'on')[] = i % 2 === 0 ? ['off', 'on'] : ['on', 'off']
    for (const which of order) {
      const broker = which === 'on' ? on : off
      const cpuBefore = cpuSeconds(broker.child.pid!)
      const rate = await produce(broker.address, join(dir, `report-${i}-${which}.json`))
      const cpuPerMillion = (cpuSeconds(broker.child.pid!) - cpuBefore) / (RECORDS / 1e6)
      results[which].push(rate)
      cpu[which].push(cpuPerMillion)
      console.log(`run ${i + 1} metrics ${which}: ${Math.round(rate)} records/s, broker ${cpuPerMillion.toFixed(2)} CPU-s/M`)
    }
  }
} catch (error) {
  console.error(error)
  process.exitCode = 1
} finally {
  clearInterval(scraper)
  await Promise.all([off, on].map((s) => {
    s.child.removeAllListeners('exit')
    const exited = new Promise((r) => s.child.once('exit', r))
    process.kill(s.child.pid!, 'SIGTERM')
    return exited
  }))
  rmSync(dir, { recursive: true, force: true })
}
const mOff = median(results.off)
const mOn = median(results.on)
console.log(`broker CPU-s per million records, median: off ${median(cpu.off).toFixed(2)}, on ${median(cpu.on).toFixed(2)} (on/off ${(median(cpu.on) / median(cpu.off)).toFixed(3)})`)
console.log(`median off ${Math.round(mOff)} records/s, on ${Math.round(mOn)} records/s: on/off ${(mOn / mOff).toFixed(3)} (${RUNS} runs each, ${RECORDS} records a run, ${scrapes} scrapes)`)
