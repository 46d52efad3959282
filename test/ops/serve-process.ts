/** `ringlog serve` from sources in a child process (127.0.0.1, port 0), stopped by PID with SIGTERM. */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { testSeed as suiteSeed } from '../seed.js'

const REPO = fileURLToPath(new URL('../../', import.meta.url))

export interface ServeProcess {
  child: ChildProcess
  port: number
  /** Port of /metrics, /health, /ready (when started with a metrics port). */
  metricsPort: number | undefined
  stdout: () => string
  stderr: () => string
  /** SIGTERM to the PID; resolves with the exit code once it exited. */
  stop(): Promise<number | null>
}

export function startServe(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--host', '127.0.0.1', '--port', '0', ...args], {
    cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  let started = false
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  child.stderr!.on('data', (d: Buffer) => { err += d.toString() })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`broker did not start in 60 s: ${err}`))
    }, 60_000)
    const onEarlyExit = (code: number | null): void => {
      clearTimeout(timer)
      reject(new Error(`broker exited with ${code} before listening: ${err}`))
    }
    child.once('exit', onEarlyExit)
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const listening = /listening on ([\d.]+):(\d+)/.exec(out)
      if (!listening || started) return
      started = true
      clearTimeout(timer)
      child.off('exit', onEarlyExit)
      const metrics = /metrics on http:\/\/[\d.]+:(\d+)\/metrics/.exec(out)
      resolve({
        child,
        port: Number(listening[2]),
        metricsPort: metrics ? Number(metrics[1]) : undefined,
        stdout: () => out,
        stderr: () => err,
        stop: () => {
          if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGTERM')
          return exited
        },
      })
    })
  })
}

/** Runs `ringlog serve` expecting it to fail at start; resolves with its exit code and stderr. */
export function serveFailure(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--host', '127.0.0.1', '--port', '0', ...args], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr!.on('data', (d: Buffer) => { err += d.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  return new Promise((resolve) => child.once('exit', (code) => { clearTimeout(timer); resolve({ code, stderr: err }) }))
}

/** The suite's seed (test/seed.ts: RINGLOG_SEED or fresh), printed so a run can be replayed. */
export function testSeed(name: string): number {
  const seed = suiteSeed()
  console.log(`${name}: seed=${seed} (replay with RINGLOG_SEED=${seed})`)
  return seed
}

/** mulberry32: a small seeded PRNG in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
