/**
 * A same-run A/B of a broker setting against the standard `ringlog bench produce` load (tcp,
 * the loadgen producer, 100-byte records, acks=all, flush never): two compiled `ringlog serve`
 * processes side by side, one per variant, loaded alternately in ABBA order (so drift hits both
 * alike) and only one at a time. Reports each run's records/s and the broker's CPU seconds per
 * million records (utime+stime of the serve process from /proc, all threads: steadier than
 * records/s on a shared machine), the medians and B/A.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const CLI = fileURLToPath(new URL('../bin/ringlog.js', import.meta.url))

export interface ServedBroker { child: ChildProcess; address: string; metricsPort?: number }

export interface Variant {
  label: string
  /** Extra `ringlog serve` flags. */
  flags: string[]
  /** Runs beside the variant's broker while it lives (a scraper, say); returns its stopper. */
  companion?: (broker: ServedBroker) => () => void
}

export interface AbResult {
  label: string
  recordsPerSec: number[]
  cpuSecondsPerMillion: number[]
}

function serve(dir: string, flags: string[]): Promise<ServedBroker> {
  const child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dir, '--flush', 'never', '--log-level', 'warn', ...flags], { stdio: ['ignore', 'pipe', 'inherit'] })
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

async function produce(address: string, records: number, reportFile: string): Promise<number> {
  await promisify(execFile)(process.execPath, [CLI, 'bench', 'produce', '--brokers', address, '--records', String(records), '--reps', '1', '--warmups', '0', '--json', reportFile], { timeout: 600_000 })
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { scenarios: { summary: { recordsPerSec: { median: number } } }[] }
  return report.scenarios[0].summary.recordsPerSec.median
}

/** utime + stime of a process, all threads, in seconds (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/**
 * Runs `runs` rounds of both variants (ABBA) after `warmupRecords` records to each (0: none),
 * prints every run and the medians, and returns the per-run figures.
 */
export async function runAb(name: string, a: Variant, b: Variant, opts: { runs: number; records: number; warmupRecords?: number }): Promise<[AbResult, AbResult]> {
  const dir = mkdtempSync(join(tmpdir(), `ringlog-${name}-`))
  const brokers = [await serve(join(dir, 'a'), a.flags), await serve(join(dir, 'b'), b.flags)]
  const stoppers = [a, b].map((v, i) => v.companion?.(brokers[i]))
  const fresh = (v: Variant): AbResult => ({ label: v.label, recordsPerSec: [], cpuSecondsPerMillion: [] })
  const results: [AbResult, AbResult] = [fresh(a), fresh(b)]
  try {
    if (opts.warmupRecords) {
      for (const [i, broker] of brokers.entries()) await produce(broker.address, opts.warmupRecords, join(dir, `warmup-${i}.json`))
    }
    for (let run = 0; run < opts.runs; run++) {
      for (const i of run % 2 === 0 ? [0, 1] : [1, 0]) {
        const broker = brokers[i]
        const cpuBefore = cpuSeconds(broker.child.pid!)
        const rate = await produce(broker.address, opts.records, join(dir, `report-${run}-${i}.json`))
        const cpuPerMillion = (cpuSeconds(broker.child.pid!) - cpuBefore) / (opts.records / 1e6)
        results[i].recordsPerSec.push(rate)
        results[i].cpuSecondsPerMillion.push(cpuPerMillion)
        console.log(`run ${run + 1} ${results[i].label}: ${Math.round(rate)} records/s, broker ${cpuPerMillion.toFixed(2)} CPU-s/M`)
      }
    }
  } finally {
    for (const stop of stoppers) stop?.()
    await Promise.all(brokers.map((s) => {
      s.child.removeAllListeners('exit')
      const exited = new Promise((r) => s.child.once('exit', r))
      process.kill(s.child.pid!, 'SIGTERM')
      return exited
    }))
    rmSync(dir, { recursive: true, force: true })
  }
  const [ra, rb] = results
  const cpuA = median(ra.cpuSecondsPerMillion)
  const cpuB = median(rb.cpuSecondsPerMillion)
  console.log(`broker CPU-s per million records, median: ${ra.label} ${cpuA.toFixed(2)}, ${rb.label} ${cpuB.toFixed(2)} (${rb.label}/${ra.label} ${(cpuB / cpuA).toFixed(3)})`)
  const rateA = median(ra.recordsPerSec)
  const rateB = median(rb.recordsPerSec)
  console.log(`median ${ra.label} ${Math.round(rateA)} records/s, ${rb.label} ${Math.round(rateB)} records/s: ${rb.label}/${ra.label} ${(rateB / rateA).toFixed(3)} (${opts.runs} runs each, ${opts.records} records a run)`)
  return results
}
