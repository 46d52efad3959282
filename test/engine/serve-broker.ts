/**
 * A `ringlog serve` child process on 127.0.0.1 (port 0) for the compaction tests: started on a
 * data dir, its stderr kept (log lines), stopped by its PID with SIGTERM or SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ringlogArgv } from '../node-argv.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export interface ServeProcess {
  child: ChildProcess
  bootstrap: string
  /** Everything the broker wrote to stderr so far. */
  stderr(): string
  /** SIGKILL (kill -9) by PID; resolves once it has exited. */
  kill(): Promise<void>
  /** SIGTERM by PID (clean shutdown); resolves once it has exited. */
  stop(): Promise<void>
}

export function startServe(dataDir: string, args: readonly string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, ringlogArgv([
    'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--flush', 'never', '--max-workers', '2',
    '--group-initial-rebalance-delay-ms', '0', '--offsets-topic-num-partitions', '1', '--log-level', 'warn', ...args,
  ]), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr?.on('data', (chunk: Buffer) => { err += chunk.toString() })
  const ended = (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => { if (child.pid) process.kill(child.pid, 'SIGKILL') }, 20_000)
      child.once('exit', () => { clearTimeout(timer); resolve() })
      if (child.pid) process.kill(child.pid, signal)
    })
  }
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => { if (child.pid) process.kill(child.pid, 'SIGKILL'); reject(new Error(`broker did not start: ${err}`)) }, 30_000)
    const onExit = (code: number | null): void => { clearTimeout(timer); reject(new Error(`broker exited with ${code}: ${err}`)) }
    child.once('exit', onExit)
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /listening on ([\d.]+):(\d+)/.exec(out)
      if (!match) return
      clearTimeout(timer)
      child.off('exit', onExit)
      resolve({ child, bootstrap: `${match[1]}:${match[2]}`, stderr: () => err, kill: () => ended('SIGKILL'), stop: () => ended('SIGTERM') })
    })
  })
}
