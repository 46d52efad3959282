/**
 * A same-run A/B of a broker setting against the standard `ringlog bench produce` load (tcp,
 * the loadgen producer, 100-byte records, acks=all, flush never): two compiled `ringlog serve`
 * processes side by side, one per variant, loaded alternately in ABBA order (so drift hits both
 * alike) and only one at a time. Reports each run's records/s and the broker's CPU seconds per
 * million records (utime+stime of the serve process from /proc, all threads: steadier than
 * records/s on a shared machine), the medians and B/A.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { brokerCpuSeconds, serveBroker, type ServedBroker, THIS_BIN as CLI } from './serve-broker.js'

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

async function produce(address: string, records: number, reportFile: string): Promise<number> {
  await promisify(execFile)(process.execPath, [CLI, 'bench', 'produce', '--brokers', address, '--records', String(records), '--reps', '1', '--warmups', '0', '--json', reportFile], { timeout: 600_000 })
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { scenarios: { summary: { recordsPerSec: { median: number } } }[] }
  return report.scenarios[0].summary.recordsPerSec.median
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
  const serve = (sub: string, flags: string[]): Promise<ServedBroker> => serveBroker({ dataDir: join(dir, sub), flags: ['--flush', 'never', ...flags] })
  const brokers = [await serve('a', a.flags), await serve('b', b.flags)]
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
        const cpuBefore = brokerCpuSeconds(broker.child.pid!)
        const rate = await produce(broker.address, opts.records, join(dir, `report-${run}-${i}.json`))
        const cpuPerMillion = (brokerCpuSeconds(broker.child.pid!) - cpuBefore) / (opts.records / 1e6)
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
