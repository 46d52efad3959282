/**
 * The one helper that runs ringlog as child processes in tests: one-shot commands, and
 * `ringlog serve` on 127.0.0.1:0. It runs the compiled CLI (node bin/ringlog.js, the dist/
 * `npm test` builds first), which starts in a fraction of the time the TypeScript sources take
 * through tsx and is what users run; RINGLOG_TEST_FROM_SOURCES=1 runs src/cli/main.ts through
 * tsx instead (test/node-argv.ts). Every child is stopped by its PID; every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ringlogArgv, runsFromBuild } from '../node-argv.js'

export const REPO = fileURLToPath(new URL('../../', import.meta.url))
/** Generous: only a hung process reaches it, and it is then killed (no assertion on time). */
const PROCESS_TIMEOUT_MS = 60_000

export interface RunResult { code: number | null; stdout: string; stderr: string }

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourcesUnder(path)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : []
  })
}

/**
 * Fails unless dist/ holds a build at least as new as every source file, so these tests never
 * pass or fail on stale code. `npm test` builds first; alone, run `npm run build`.
 */
export function assertBuilt(): void {
  if (!runsFromBuild) return
  const src = join(REPO, 'src')
  const stale = sourcesUnder(src).filter((file) => {
    const built = join(REPO, 'dist', relative(src, file)).replace(/\.ts$/, '.js')
    return !existsSync(built) || statSync(built).mtimeMs < statSync(file).mtimeMs
  })
  if (stale.length > 0) {
    throw new Error(`dist/ is missing or older than ${stale.length} source file(s) (${relative(REPO, stale[0])}, ...): run \`npm run build\` first`)
  }
}

export interface RunOptions {
  /** Written to stdin, which then closes (default: nothing). */
  input?: string
  env?: NodeJS.ProcessEnv
  /** Only a hung process reaches it, and it is then killed by PID (no assertion on time). */
  timeoutMs?: number
}

/** Runs `command` with its output collected; killed by PID if it does not finish. */
export function runProcess(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO, env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL')
      reject(new Error(`${command} ${args.join(' ')} did not finish: ${stderr}`))
    }, options.timeoutMs ?? PROCESS_TIMEOUT_MS)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.on('error', () => undefined)
    child.stdin.end(options.input ?? '')
  })
}

/** Runs `ringlog <args>` with `input` on stdin. */
export function runRinglog(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return runProcess(process.execPath, ringlogArgv(args), options)
}

export interface RinglogBroker {
  child: ChildProcess
  pid: number
  port: number
  bootstrap: string
  /** Port of /metrics, /health, /ready when started with --metrics-port. */
  metricsPort: number | undefined
  stdout(): string
  stderr(): string
  /** SIGTERM to this PID; resolves with the exit code. */
  stop(): Promise<number | null>
}

function spawnServe(args: readonly string[], env: NodeJS.ProcessEnv, stdout: 'pipe' | 'ignore'): ChildProcess {
  return spawn(process.execPath, ringlogArgv(['serve', '--host', '127.0.0.1', '--port', '0', ...args]), {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout, 'pipe'],
  })
}

/** Starts `ringlog serve` on 127.0.0.1 and a free port; resolves once it prints its listening line. */
export function startRinglogBroker(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<RinglogBroker> {
  const child = spawnServe(args, env, 'pipe')
  let out = ''
  let err = ''
  let started = false
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  child.stderr!.on('data', (d: Buffer) => { err += d.toString() })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.exitCode === null) process.kill(child.pid!, 'SIGKILL')
      reject(new Error(`ringlog serve did not start: ${err}`))
    }, PROCESS_TIMEOUT_MS)
    const onEarlyExit = (code: number | null): void => {
      clearTimeout(timer)
      reject(new Error(`ringlog serve exited with ${code} before listening: ${err}`))
    }
    child.once('exit', onEarlyExit)
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const listening = /listening on [\d.]+:(\d+)/.exec(out)
      if (!listening || started) return
      started = true
      clearTimeout(timer)
      child.off('exit', onEarlyExit)
      const port = Number(listening[1])
      const metrics = /metrics on http:\/\/[\d.]+:(\d+)\/metrics/.exec(out)
      resolve({
        child,
        pid: child.pid!,
        port,
        bootstrap: `127.0.0.1:${port}`,
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
export function serveFailure(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> {
  const child = spawnServe(args, env, 'ignore')
  let err = ''
  child.stderr!.on('data', (d: Buffer) => { err += d.toString() })
  const timer = setTimeout(() => { if (child.exitCode === null) process.kill(child.pid!, 'SIGKILL') }, PROCESS_TIMEOUT_MS)
  return new Promise((resolve) => child.once('exit', (code) => { clearTimeout(timer); resolve({ code, stderr: err }) }))
}

/** A loopback port nothing listens on: bound by the OS, then released (a connect is refused). */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
