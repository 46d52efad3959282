/**
 * What security costs end to end, same run (issue 17): TLS against PLAINTEXT for produce and
 * consume, and the authorizer on against off for produce.
 *
 * - TLS: one compiled `ringlog serve` with a PLAINTEXT and an SSL listener (a throwaway
 *   self-signed certificate made with openssl), so both rows hit the same broker, data dir and
 *   page cache. `ringlog bench produce|consume --brokers <listener> [--tls --tls-ca-file]` (the
 *   loadgen client, 100-byte records, acks=all, flush never, one repetition each) is run
 *   against the two listeners alternately (ABBA). Fetch over TLS cannot use sendfile: the
 *   broker streams the file range through a 1 MiB read stream into the TLS socket.
 * - Authorizer: two `ringlog serve` side by side, one plain, one with `--authorizer on` and
 *   1,000 ACLs (the figure): the ones that let the bench through (ALLOW All on the prefix
 *   `bench-` and the cluster for User:ANONYMOUS, a DENY for another principal on the same
 *   prefix) among 997 others (literal and prefixed topics, groups, transactional ids, other
 *   principals and hosts, ALLOW and DENY), written to its data dir before it starts; loaded
 *   alternately (ABBA).
 *
 * Prints each run, then per row the median records/s of the runs, the broker's CPU seconds per
 * million records (utime+stime of the serve process from /proc, all threads: steadier than
 * records/s on a shared machine) and the ratios of the medians; `--json <file>` writes the same.
 *
 *   npm run build && npx tsx bench/security-cost.bench.ts [--runs 6] [--records 300000] [--json out.json]
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { makeBenchCertificate } from '../src/bench/scenarios/bench-broker.js'
import { AclOperation, AclPermission, PatternType, ResourceType, type AclBinding } from '../src/security/acl.js'
import { AclStore } from '../src/security/acl-store.js'
import { brokerCpuSeconds } from './serve-broker.js'

const CLI = fileURLToPath(new URL('../bin/ringlog.js', import.meta.url))
const { values } = parseArgs({ options: { runs: { type: 'string', default: '6' }, records: { type: 'string', default: '300000' }, json: { type: 'string' } } })
const RUNS = Number(values.runs)
const RECORDS = Number(values.records)
if (!Number.isInteger(RUNS) || RUNS < 1 || !Number.isInteger(RECORDS) || RECORDS < 1) throw new Error('--runs and --records must be positive integers')

interface Served { child: ChildProcess; lines: string }

/** `count` bindings unrelated to the bench's topics and principal, of every kind an operator writes. */
function fillerAcls(count: number): AclBinding[] {
  const resources = [ResourceType.TOPIC, ResourceType.TOPIC, ResourceType.GROUP, ResourceType.TRANSACTIONAL_ID]
  const operations = [AclOperation.READ, AclOperation.WRITE, AclOperation.DESCRIBE, AclOperation.ALL]
  return Array.from({ length: count }, (_, i) => ({
    resourceType: resources[i % resources.length],
    resourceName: i % 3 === 0 ? `team${i}-` : `orders-${i}`,
    patternType: i % 3 === 0 ? PatternType.PREFIXED : PatternType.LITERAL,
    principal: `User:service-${i % 50}`,
    host: i % 10 === 0 ? `10.0.${i % 256}.1` : '*',
    operation: operations[i % operations.length],
    permission: i % 7 === 0 ? AclPermission.DENY : AclPermission.ALLOW,
  }))
}

/** Starts `ringlog serve`; resolves once every line in `waitFor` has printed its address. */
function serve(dataDir: string, extra: string[], waitFor: RegExp[]): Promise<{ child: ChildProcess; addresses: string[] }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--flush', 'never', '--log-level', 'warn', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] })
  const served: Served = { child, lines: '' }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${served.lines}`)), 60_000)
    child.once('exit', (code) => reject(new Error(`serve exited ${code}`)))
    child.stdout!.on('data', (d: Buffer) => {
      served.lines += d.toString()
      const found = waitFor.map((pattern) => pattern.exec(served.lines)?.[1])
      if (found.some((a) => a === undefined)) return
      clearTimeout(timer)
      child.removeAllListeners('exit')
      resolve({ child, addresses: found as string[] })
    })
  })
}

function stop(child: ChildProcess): Promise<unknown> {
  if (child.exitCode !== null) return Promise.resolve()
  const exited = new Promise((resolve) => child.once('exit', resolve))
  process.kill(child.pid!, 'SIGTERM')
  return exited
}

const run = promisify(execFile)

async function ringlog(args: string[]): Promise<void> {
  await run(process.execPath, [CLI, ...args], { timeout: 600_000 })
}

/** records/s of one `ringlog bench <scenario>` repetition against `address`. */
async function benchOnce(scenario: 'produce' | 'consume', address: string, extra: string[], reportFile: string): Promise<number> {
  await ringlog(['bench', scenario, '--brokers', address, '--records', String(RECORDS), '--reps', '1', '--warmups', '0', '--json', reportFile, ...extra])
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { scenarios: { summary: { recordsPerSec: { median: number } } }[] }
  return report.scenarios[0].summary.recordsPerSec.median
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

interface Row {
  name: string
  baseline: string
  variant: string
  baselineRuns: number[]
  variantRuns: number[]
  /** Broker CPU seconds per million records, per run. */
  baselineCpu: number[]
  variantCpu: number[]
}

interface Side { pid: number; once: (i: number) => Promise<number> }

/** Runs `a` and `b` alternately (ABBA), RUNS times each. */
async function alternate(row: Row, a: Side, b: Side): Promise<void> {
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 === 0 ? ['a', 'b'] : ['b', 'a']
    for (const which of order) {
      const side = which === 'a' ? a : b
      const before = brokerCpuSeconds(side.pid)
      const rate = await side.once(i)
      // A consume run also produces its pre-fill through the broker: its CPU covers both.
      const cpu = (brokerCpuSeconds(side.pid) - before) / (RECORDS / 1e6)
      ;(which === 'a' ? row.baselineRuns : row.variantRuns).push(rate)
      ;(which === 'a' ? row.baselineCpu : row.variantCpu).push(cpu)
      console.log(`${row.name} run ${i + 1} ${which === 'a' ? row.baseline : row.variant}: ${Math.round(rate)} records/s, broker ${cpu.toFixed(2)} CPU-s/M (load ${loadavg()[0].toFixed(1)})`)
    }
  }
}

const dir = mkdtempSync(join(tmpdir(), 'ringlog-security-cost-'))
const rows: Row[] = []
const loadAtStart = loadavg()[0]
const servers: ChildProcess[] = []
try {
  mkdirSync(join(dir, 'certs'))
  const certificate = makeBenchCertificate(join(dir, 'certs'))
  const both = await serve(join(dir, 'tls'), ['--listener', 'PLAINTEXT://127.0.0.1:0', '--listener', 'SSL://127.0.0.1:0', '--tls-cert-file', certificate.certFile, '--tls-key-file', certificate.keyFile],
    [/PLAINTEXT listener on ([\d.]+:\d+)/, /SSL listener on ([\d.]+:\d+)/])
  servers.push(both.child)
  const [plaintext, ssl] = both.addresses
  const tls = ['--tls', '--tls-ca-file', certificate.certFile]
  for (const scenario of ['produce', 'consume'] as const) {
    const row: Row = { name: `${scenario} TLS vs PLAINTEXT`, baseline: 'PLAINTEXT', variant: 'TLS', baselineRuns: [], variantRuns: [], baselineCpu: [], variantCpu: [] }
    rows.push(row)
    const pid = both.child.pid!
    await alternate(row,
      { pid, once: (i) => benchOnce(scenario, plaintext, [], join(dir, `${scenario}-plain-${i}.json`)) },
      { pid, once: (i) => benchOnce(scenario, ssl, tls, join(dir, `${scenario}-tls-${i}.json`)) })
  }
  await stop(both.child)
  servers.length = 0

  const off = await serve(join(dir, 'authz-off'), [], [/listening on ([\d.]+:\d+)/])
  servers.push(off.child)
  AclStore.open(join(dir, 'authz-on')).add(fillerAcls(997))
  const on = await serve(join(dir, 'authz-on'), ['--authorizer', 'on', '--allow-everyone-if-no-acl-found', 'true'], [/listening on ([\d.]+:\d+)/])
  servers.push(on.child)
  const acl = ['-b', on.addresses[0]]
  await ringlog(['acls', 'add', '--allow', 'User:ANONYMOUS', '--operation', 'All', '--topic', 'bench-', '--prefixed', ...acl])
  await ringlog(['acls', 'add', '--allow', 'User:ANONYMOUS', '--operation', 'All', '--cluster', ...acl])
  await ringlog(['acls', 'add', '--deny', 'User:mallory', '--operation', 'Write', '--topic', 'bench-', '--prefixed', ...acl])
  console.log(`authorizer on: ${AclStore.open(join(dir, 'authz-on')).size} ACLs loaded`)
  const row: Row = { name: 'produce authorizer on vs off', baseline: 'off', variant: 'on', baselineRuns: [], variantRuns: [], baselineCpu: [], variantCpu: [] }
  rows.push(row)
  await alternate(row,
    { pid: off.child.pid!, once: (i) => benchOnce('produce', off.addresses[0], [], join(dir, `authz-off-${i}.json`)) },
    { pid: on.child.pid!, once: (i) => benchOnce('produce', on.addresses[0], [], join(dir, `authz-on-${i}.json`)) })
} catch (error) {
  console.error(error)
  process.exitCode = 1
} finally {
  await Promise.all(servers.map(stop))
  rmSync(dir, { recursive: true, force: true })
}

const summary = rows.map((r) => {
  const base = median(r.baselineRuns)
  const variant = median(r.variantRuns)
  const baseCpu = median(r.baselineCpu)
  const variantCpu = median(r.variantCpu)
  return { ...r, baselineMedian: base, variantMedian: variant, ratio: variant / base, baselineCpuMedian: baseCpu, variantCpuMedian: variantCpu, cpuRatio: variantCpu / baseCpu }
})
const loadAtEnd = loadavg()[0]
console.log(`\n${RUNS} runs each, ${RECORDS} records a run, ABBA order; load average ${loadAtStart.toFixed(1)} at the start, ${loadAtEnd.toFixed(1)} at the end (2 cores)`)
console.log('| row | baseline records/s | variant records/s | variant/baseline | broker CPU-s/M baseline / variant | CPU variant/baseline |')
console.log('|---|---|---|---|---|---|')
for (const s of summary) {
  const rate = (x: number): string => Math.round(x).toLocaleString('en-US')
  console.log(`| ${s.name} | ${s.baseline} ${rate(s.baselineMedian)} | ${s.variant} ${rate(s.variantMedian)} | ${s.ratio.toFixed(3)} | ${s.baselineCpuMedian.toFixed(2)} / ${s.variantCpuMedian.toFixed(2)} | ${s.cpuRatio.toFixed(3)} |`)
}
if (values.json) writeFileSync(values.json, JSON.stringify({ runs: RUNS, records: RECORDS, loadAtStart, loadAtEnd, rows: summary }, null, 2))
