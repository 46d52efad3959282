/**
 * Runs the real `ringlog` binary (node bin/ringlog.js, the compiled dist/ that `npm test`
 * builds first) as child processes: one-shot commands, and `ringlog serve` on 127.0.0.1:0.
 * The compiled CLI starts in a fraction of the time the TypeScript sources take through tsx,
 * and it is what users run. Every child is stopped by its PID; every wait is bounded.
 */
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO = fileURLToPath(new URL('../../', import.meta.url))
const BIN = join(REPO, 'bin', 'ringlog.js')
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

/** Runs `ringlog <args>` (the compiled binary) with `input` on stdin. */
export function runRinglog(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return runProcess(process.execPath, [BIN, ...args], options)
}

export interface RinglogBroker {
  pid: number
  port: number
  bootstrap: string
  stderr(): string
  /** SIGTERM to this PID; resolves with the exit code. */
  stop(): Promise<number | null>
}

/** Starts `ringlog serve` on 127.0.0.1 and a free port; resolves once it prints its listening line. */
export function startRinglogBroker(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<RinglogBroker> {
  const child = spawn(process.execPath, [BIN, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
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
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening on [\d.]+:(\d+)/.exec(out)
      if (!m) return
      clearTimeout(timer)
      child.off('exit', onEarlyExit)
      const port = Number(m[1])
      resolve({
        pid: child.pid!,
        port,
        bootstrap: `127.0.0.1:${port}`,
        stderr: () => err,
        stop: () => {
          if (child.exitCode === null) process.kill(child.pid!, 'SIGTERM')
          return exited
        },
      })
    })
  })
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
