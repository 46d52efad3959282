/**
 * kcat (librdkafka) as the client, to cross-check the load generator's tcp figures with a
 * real, independent producer and consumer. kcat runs under `sh -c`, which prints its own
 * /proc stat after kcat exits: its cutime/cstime fields then hold kcat's CPU (a reaped
 * child's time is added to its parent's), the only way to read a finished process's CPU.
 */
import { Buffer } from 'node:buffer'
import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { seededRandom } from '../stats.js'
import type { BenchParams } from '../scenario.js'

const USER_HZ = 100

export interface KcatRun {
  /** Lines kcat printed on stdout (consume: one per message). */
  lines: number
  /** kcat's user + system CPU seconds. */
  cpuSeconds: number
}

/** Writes `records` newline-separated records of `recordSize` printable bytes. */
export async function writeKcatInput(path: string, records: number, recordSize: number): Promise<void> {
  const random = seededRandom(11)
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789{}":,'
  const out = createWriteStream(path)
  const perChunk = Math.max(1, Math.floor((1 << 20) / (recordSize + 1)))
  for (let done = 0; done < records;) {
    const n = Math.min(perChunk, records - done)
    const chunk = Buffer.allocUnsafe(n * (recordSize + 1))
    for (let i = 0; i < chunk.length; i++) chunk[i] = alphabet.charCodeAt(Math.floor(random() * alphabet.length))
    for (let r = 1; r <= n; r++) chunk[r * (recordSize + 1) - 1] = 0x0a
    done += n
    if (!out.write(chunk)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
}

function librdkafkaOptions(params: Readonly<BenchParams>): string[] {
  return [
    '-X', `acks=${params.acks === -1 ? 'all' : params.acks}`,
    '-X', `linger.ms=${params.lingerMs}`,
    '-X', `batch.size=${params.batchSize}`,
    '-z', params.compression,
  ]
}

function quote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`
}

async function runUnderShell(kcatArgs: string[]): Promise<KcatRun> {
  const script = `kcat ${kcatArgs.map(quote).join(' ')}; s=$?; echo; echo "KCAT-STAT $(cat /proc/$$/stat)" >&2; exit $s`
  const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] })
  let lines = 0
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) lines++
  })
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (text: string) => {
    stderr = (stderr + text).slice(-8000)
  })
  const [code] = (await once(child, 'exit')) as [number | null]
  if (code !== 0) throw new Error(`kcat exited with ${code}: ${stderr.replace(/KCAT-STAT.*$/s, '').trim()}`)
  const stat = /KCAT-STAT (.*)$/m.exec(stderr)?.[1] ?? ''
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // After the name: cutime and cstime are fields 16 and 17 (1-based), i.e. index 13 and 14.
  const cpuSeconds = (Number(fields[16 - 3]) + Number(fields[17 - 3])) / USER_HZ
  // The trailing `echo` adds one line.
  return { lines: Math.max(0, lines - 1), cpuSeconds: Number.isFinite(cpuSeconds) ? cpuSeconds : 0 }
}

/** Produces every line of `inputFile` to `topic` (librdkafka's partitioner spreads keyless records). */
export function kcatProduce(broker: string, topic: string, inputFile: string, params: Readonly<BenchParams>): Promise<KcatRun> {
  return runUnderShell(['-P', '-b', broker, '-t', topic, '-l', ...librdkafkaOptions(params), inputFile])
}

/** Reads `count` messages of `topic` from the beginning (one output line each), then exits. */
export function kcatConsume(broker: string, topic: string, count: number): Promise<KcatRun> {
  return runUnderShell(['-C', '-b', broker, '-t', topic, '-o', 'beginning', '-e', '-q', '-c', String(count), '-f', '%o\n'])
}
