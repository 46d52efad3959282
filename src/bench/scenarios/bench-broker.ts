/**
 * The broker a tcp-mode scenario talks to: one given with --brokers (external: its CPU is
 * not measured), one started as a child process (`ringlog serve --port 0`, the default: its
 * CPU comes from /proc/<pid>/stat, threads included, apart from the client's), or one started
 * in this process (tests: broker and client then share one process and one CPU figure), or
 * the load generator's discarding sink on a thread (measures the generator alone).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { silentLogger } from '../../broker/logger.js'
import { BrokerServer } from '../../broker/server.js'
import { resolveConfig } from '../../config.js'
import { startSinkThread } from '../loadgen/sink-thread.js'
import { processCpuSeconds } from '../process-cpu.js'
import type { FlushPolicy } from '../scenario.js'

/** 'sink': no broker at all but the load generator's discarding sink on a thread, to measure the generator alone (tcp produce only). */
export type BrokerPlacement = 'child' | 'in-process' | 'sink'

export interface BenchBroker {
  /** host:port */
  readonly address: string
  /** 'external' when given by address. */
  readonly kind: BrokerPlacement | 'external'
  /** CPU seconds the broker used so far, or null when it cannot be measured apart (external, in-process). */
  cpuSeconds(): number | null
  close(): Promise<void>
}

export interface StartBenchBrokerOptions {
  flush: FlushPolicy
  placement?: BrokerPlacement
  /** Parent of the broker's temp data dir, default os.tmpdir(). */
  dir?: string
  /** Partitions of auto-created topics. */
  partitions?: number
  /** Milliseconds to wait for "listening", default 30000. */
  startTimeoutMs?: number
}

function flushFlag(flush: FlushPolicy): string {
  return typeof flush === 'number' ? String(Math.max(1, Math.round(flush))) : flush
}

/** A broker someone else runs. */
export function externalBroker(address: string): BenchBroker {
  return { address, kind: 'external', cpuSeconds: () => null, close: async () => undefined }
}

/** How to run the CLI next to this module: compiled JS directly, TypeScript sources through tsx. */
function cliCommand(): { args: string[] } {
  const fromSources = import.meta.url.endsWith('.ts')
  const main = fileURLToPath(new URL(`../../cli/main.${fromSources ? 'ts' : 'js'}`, import.meta.url))
  if (!existsSync(main)) throw new Error(`cannot find the ringlog CLI at ${main} (run \`npm run build\`)`)
  return { args: fromSources ? ['--import', 'tsx', main] : [main] }
}

export async function startBenchBroker(options: StartBenchBrokerOptions): Promise<BenchBroker> {
  if (options.placement === 'sink') {
    const sink = await startSinkThread()
    return { address: sink.address, kind: 'sink', cpuSeconds: () => null, close: () => sink.close() }
  }
  const dataDir = mkdtempSync(join(options.dir ?? tmpdir(), 'ringlog-bench-broker-'))
  try {
    if ((options.placement ?? 'child') === 'in-process') return await startInProcess(options, dataDir)
    return await startChild(options, dataDir)
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
}

async function startInProcess(options: StartBenchBrokerOptions, dataDir: string): Promise<BenchBroker> {
  const flush = typeof options.flush === 'number' ? { intervalMs: Math.max(1, Math.round(options.flush)) } : options.flush
  const config = resolveConfig({ dataDir, host: '127.0.0.1', port: 0, flush, numPartitions: options.partitions ?? 1 })
  const server = await BrokerServer.start(config, { logger: silentLogger })
  const { port } = server.address()
  return {
    address: `127.0.0.1:${port}`,
    kind: 'in-process',
    cpuSeconds: () => null,
    close: async () => {
      await server.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

async function startChild(options: StartBenchBrokerOptions, dataDir: string): Promise<BenchBroker> {
  const { args } = cliCommand()
  const child = spawn(process.execPath, [...args, 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--flush', flushFlag(options.flush), '--partitions', String(options.partitions ?? 1)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderrTail = ''
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (text: string) => {
    stderrTail = (stderrTail + text).slice(-4000)
  })
  const address = await new Promise<string>((resolve, reject) => {
    let stdout = ''
    const timer = setTimeout(() => fail(new Error(`broker did not report listening within ${options.startTimeoutMs ?? 30_000} ms`)), options.startTimeoutMs ?? 30_000)
    const fail = (error: Error): void => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(new Error(`${error.message}\n${stderrTail}`))
    }
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (text: string) => {
      stdout += text
      const match = /listening on ([^\s]+):(\d+)/.exec(stdout)
      if (match) {
        clearTimeout(timer)
        resolve(`127.0.0.1:${match[2]}`)
      }
    })
    child.once('error', fail)
    child.once('exit', (code, signal) => fail(new Error(`broker exited before listening (code ${code}, signal ${signal})`)))
  })
  child.removeAllListeners('exit')
  return {
    address,
    kind: 'child',
    cpuSeconds: () => processCpuSeconds(child.pid!),
    close: async () => {
      await stopChild(child)
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** SIGTERM (the broker flushes and exits), SIGKILL if it has not exited after 15 s. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}
