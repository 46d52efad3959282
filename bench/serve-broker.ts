/**
 * What the same-run A/B benches share: a compiled `ringlog serve` child of any build, started on
 * 127.0.0.1 and a free port, and its CPU time (all threads) read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { processCpuSeconds } from '../src/bench/process-cpu.js'

/** This checkout's CLI (run `npm run build` first). */
export const THIS_BIN = fileURLToPath(new URL('../bin/ringlog.js', import.meta.url))

export interface ServedBroker {
  child: ChildProcess
  /** host:port it listens on. */
  address: string
  metricsPort?: number
  /** Settles when the process exits. */
  exited: Promise<unknown>
}

export interface ServeOptions {
  dataDir: string
  /** Extra `ringlog serve` flags. */
  flags?: readonly string[]
  /** Another build's bin/ringlog.js (default: this checkout's). */
  bin?: string
  /** node/V8 flags before the script. */
  nodeArgs?: readonly string[]
  env?: NodeJS.ProcessEnv
}

/** `node <bin> serve` on 127.0.0.1 and a free port; resolves once it prints its listening line (at most 60 s). */
export function serveBroker(options: ServeOptions): Promise<ServedBroker> {
  const bin = options.bin ?? THIS_BIN
  const args = [...(options.nodeArgs ?? []), bin, 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', options.dataDir, '--log-level', 'warn', ...(options.flags ?? [])]
  const child = spawn(process.execPath, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise((done) => child.once('exit', done))
  let out = ''
  return new Promise((ready, fail) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); fail(new Error(`${bin} serve did not start in 60 s`)) }, 60_000)
    child.once('exit', (code) => { clearTimeout(timer); fail(new Error(`${bin} serve exited ${code} before listening`)) })
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening on ([\d.]+:\d+)/.exec(out)
      if (!m) return
      clearTimeout(timer)
      const metrics = /metrics on http:\/\/[\d.]+:(\d+)/.exec(out)
      ready({ child, address: m[1], metricsPort: metrics ? Number(metrics[1]) : undefined, exited })
    })
  })
}

/** utime + stime of a process, all threads, in seconds (ticks of 1/100 s: read over whole runs). */
export function brokerCpuSeconds(pid: number): number {
  const seconds = processCpuSeconds(pid)
  if (seconds === null) throw new Error(`no CPU time for process ${pid} (/proc/${pid}/stat unreadable)`)
  return seconds
}
