/** Runs `ringlog serve` as a child process (compiled, or from sources via tsx: test/node-argv.ts) for compat tests and benchmarks. */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { ringlogArgv } from '../node-argv.js'

const REPO = fileURLToPath(new URL('../../', import.meta.url))

export interface CliBroker {
  child: ChildProcess
  pid: number
  port: number
  stderr: () => string
  /** Sends SIGTERM to this PID and resolves with the exit code. */
  stop(): Promise<number | null>
}

export function startCliBroker(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliBroker> {
  const child = spawn(process.execPath, ringlogArgv(['serve', '--host', '127.0.0.1', '--port', '0', ...args]), {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  child.stderr!.on('data', (d: Buffer) => { err += d.toString() })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`broker did not start: ${err}`))
    }, 30_000)
    const onEarlyExit = (code: number | null): void => {
      clearTimeout(timer)
      reject(new Error(`broker exited with ${code} before listening: ${err}`))
    }
    child.once('exit', onEarlyExit)
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening on ([\d.]+):(\d+)/.exec(out)
      if (!m) return
      clearTimeout(timer)
      child.off('exit', onEarlyExit)
      resolve({
        child,
        pid: child.pid!,
        port: Number(m[2]),
        stderr: () => err,
        stop: () => {
          if (child.exitCode === null) process.kill(child.pid!, 'SIGTERM')
          return exited
        },
      })
    })
  })
}
