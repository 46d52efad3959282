/**
 * Fetch-path transfer cost: serves `--total-mib` (default 256) MiB in 1 MiB ranges of a
 * page-cached file to a client in a separate process that discards the bytes, and compares
 *   native       sendfile(2) through the addon (sendFileRange default path)
 *   stream-1MiB  fs read stream, 1 MiB highWaterMark (sendFileRange fallback)
 *   stream-64KiB fs read stream, Node's 64 KiB default (baseline)
 * Reports MB/s and the sending process's CPU seconds (process.cpuUsage, all its threads;
 * the client's CPU is not counted), medians of `--runs` (default 5) runs, interleaved across
 * modes, and ratios to the baseline measured in the same run.
 *
 *   npx tsx bench/micro/send-file.bench.ts [--total-mib 256] [--runs 5] [--json-only]
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { nativeSendFileAvailable, sendFileRange, type SendFileOptions } from '../../src/broker/send-file.js'

const MiB = 1024 * 1024
const RANGE_BYTES = MiB
const FILE_BYTES = 64 * MiB

interface Mode {
  name: string
  options: SendFileOptions
}

interface RunResult {
  seconds: number
  cpuSeconds: number
}

const CLIENT_SCRIPT = `
const net = require('node:net')
const [port, expected] = process.argv.slice(1).map(Number)
let received = 0
const socket = net.connect(port, '127.0.0.1')
socket.on('data', (chunk) => {
  received += chunk.length
  if (received >= expected) socket.end('k')
})
socket.on('error', (err) => { console.error(err.message); process.exit(1) })
socket.on('close', () => process.exit(received === expected ? 0 : 2))
`

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** One run: a fresh client process, `totalBytes` sent as 1 MiB ranges cycling over the file. */
async function runOnce(fileFd: number, totalBytes: number, mode: Mode): Promise<RunResult> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve))
  const client = spawn(process.execPath, ['-e', CLIENT_SCRIPT, String(port), String(totalBytes)], { stdio: ['ignore', 'ignore', 'inherit'] })
  const clientExit = new Promise<number | null>((resolve) => client.once('exit', resolve))
  try {
    const socket = await accepted
    const acknowledged = new Promise<void>((resolve, reject) => {
      socket.once('data', () => resolve())
      socket.once('error', reject)
    })
    const cpuBefore = process.cpuUsage()
    const start = process.hrtime.bigint()
    for (let sent = 0; sent < totalBytes; sent += RANGE_BYTES) {
      await sendFileRange(socket, { fd: fileFd }, sent % FILE_BYTES, RANGE_BYTES, mode.options)
    }
    await acknowledged
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    const cpu = process.cpuUsage(cpuBefore)
    socket.end()
    const code = await clientExit
    if (code !== 0) throw new Error(`client exited with ${code} in mode ${mode.name}`)
    return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 }
  } finally {
    if (client.exitCode === null && client.pid !== undefined) process.kill(client.pid)
    server.close()
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'total-mib': { type: 'string', default: '256' },
      runs: { type: 'string', default: '5' },
      'json-only': { type: 'boolean', default: false },
    },
  })
  const totalBytes = Number(values['total-mib']) * MiB
  const runs = Number(values.runs)
  if (!(totalBytes > 0) || totalBytes % RANGE_BYTES !== 0 || !(runs > 0)) throw new Error('--total-mib and --runs must be positive integers')

  const modes: Mode[] = [
    { name: 'stream-64KiB', options: { native: false, highWaterMark: 64 * 1024 } },
    { name: 'stream-1MiB', options: { native: false } },
  ]
  if (nativeSendFileAvailable()) modes.push({ name: 'native', options: { native: true } })
  else console.error('native addon not built (npm run build:native): measuring the stream paths only')

  const dir = mkdtempSync(join(tmpdir(), 'ringlog-bench-send-file-'))
  const path = join(dir, 'segment.log')
  const fd = openSync(path, 'w+')
  try {
    for (let written = 0; written < FILE_BYTES; written += 4 * MiB) writeSync(fd, randomBytes(4 * MiB))
    const results = new Map<string, RunResult[]>(modes.map((m) => [m.name, []]))
    // One unrecorded warm-up per mode (page cache, JIT), then runs interleaved across modes
    // so background load on this shared machine hits all modes alike.
    for (const mode of modes) await runOnce(fd, Math.min(totalBytes, 64 * MiB), mode)
    for (let run = 0; run < runs; run++) {
      for (const mode of modes) results.get(mode.name)!.push(await runOnce(fd, totalBytes, mode))
    }

    const baseline = modes[0].name
    const summary = modes.map((mode) => {
      const rs = results.get(mode.name)!
      const mbPerSecond = median(rs.map((r) => totalBytes / 1e6 / r.seconds))
      const cpuSeconds = median(rs.map((r) => r.cpuSeconds))
      return { mode: mode.name, mbPerSecond, cpuSeconds, cpuSecondsPerGiB: cpuSeconds / (totalBytes / (1024 * MiB)) }
    })
    const base = summary[0]
    const rows = summary.map((s) => ({
      ...s,
      throughputVsBaseline: s.mbPerSecond / base.mbPerSecond,
      cpuReductionVsBaseline: base.cpuSeconds / s.cpuSeconds,
    }))
    const report = {
      bench: 'send-file',
      totalMiB: totalBytes / MiB,
      rangeMiB: RANGE_BYTES / MiB,
      runs,
      baseline,
      statistic: 'median',
      node: process.version,
      results: rows,
      raw: Object.fromEntries(results),
    }
    if (!values['json-only']) {
      console.log(`send-file: ${totalBytes / MiB} MiB in ${RANGE_BYTES / MiB} MiB ranges, median of ${runs} runs, baseline ${baseline}`)
      console.table(rows.map((r) => ({
        mode: r.mode,
        'MB/s': r.mbPerSecond.toFixed(0),
        'server CPU s': r.cpuSeconds.toFixed(3),
        'CPU s/GiB': r.cpuSecondsPerGiB.toFixed(3),
        'throughput x': r.throughputVsBaseline.toFixed(2),
        'CPU saved x': r.cpuReductionVsBaseline.toFixed(2),
      })))
    }
    console.log(JSON.stringify(report))
  } finally {
    closeSync(fd)
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
