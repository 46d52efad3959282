/**
 * The broker a tcp-mode scenario talks to: one given with --brokers (external: its CPU is
 * not measured), one started as a child process (`ringlog serve --port 0`, the default: its
 * CPU comes from /proc/<pid>/stat, threads included, apart from the client's), or one started
 * in this process (tests: broker and client then share one process and one CPU figure), or
 * the load generator's discarding sink on a thread (measures the generator alone).
 *
 * With `tls` a started broker listens on one SSL listener only, with a throwaway self-signed
 * certificate for 127.0.0.1 made by `openssl` in its data dir, and `tls` on the BenchBroker
 * says how to reach it (that certificate as the CA).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'
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
  /** Set when the broker is reached over TLS: the client's node:tls options. */
  readonly tls?: TlsConnectionOptions
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
  /** Listen on an SSL listener (a self-signed certificate made with openssl) instead of PLAINTEXT. */
  tls?: boolean
}

export interface BenchCertificate { certFile: string; keyFile: string }

/** A self-signed certificate for 127.0.0.1 in `dir`, made with the openssl command-line tool. */
export function makeBenchCertificate(dir: string): BenchCertificate {
  const certFile = join(dir, 'bench-tls.pem')
  const keyFile = join(dir, 'bench-tls.key')
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 })
  } catch (error) {
    throw new Error(`--tls needs openssl to make the broker's throwaway certificate: ${(error as Error).message}`)
  }
  return { certFile, keyFile }
}

function clientTls(certificate: BenchCertificate | undefined): TlsConnectionOptions | undefined {
  return certificate && { ca: readFileSync(certificate.certFile) }
}

function flushFlag(flush: FlushPolicy): string {
  return typeof flush === 'number' ? String(Math.max(1, Math.round(flush))) : flush
}

/** A broker someone else runs. */
export function externalBroker(address: string, tls?: TlsConnectionOptions): BenchBroker {
  return { address, kind: 'external', cpuSeconds: () => null, tls, close: async () => undefined }
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
    if (options.tls) throw new RangeError('--tls does not apply to --broker-placement sink')
    const sink = await startSinkThread()
    return { address: sink.address, kind: 'sink', cpuSeconds: () => null, close: () => sink.close() }
  }
  const dataDir = mkdtempSync(join(options.dir ?? tmpdir(), 'ringlog-bench-broker-'))
  try {
    const certificate = options.tls ? makeBenchCertificate(dataDir) : undefined
    if ((options.placement ?? 'child') === 'in-process') return await startInProcess(options, dataDir, certificate)
    return await startChild(options, dataDir, certificate)
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
}

async function startInProcess(options: StartBenchBrokerOptions, dataDir: string, certificate: BenchCertificate | undefined): Promise<BenchBroker> {
  const flush = typeof options.flush === 'number' ? { intervalMs: Math.max(1, Math.round(options.flush)) } : options.flush
  const tlsListener = certificate ? { listeners: ['SSL://127.0.0.1:0'], tlsCertFile: certificate.certFile, tlsKeyFile: certificate.keyFile } : {}
  const config = resolveConfig({ dataDir, host: '127.0.0.1', port: 0, flush, numPartitions: options.partitions ?? 1, ...tlsListener })
  const server = await BrokerServer.start(config, { logger: silentLogger })
  const { port } = certificate ? server.listenerAddress('SSL')! : server.address()
  return {
    address: `127.0.0.1:${port}`,
    kind: 'in-process',
    cpuSeconds: () => null,
    tls: clientTls(certificate),
    close: async () => {
      await server.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

async function startChild(options: StartBenchBrokerOptions, dataDir: string, certificate: BenchCertificate | undefined): Promise<BenchBroker> {
  const { args } = cliCommand()
  const tlsArgs = certificate ? ['--listener', 'SSL://127.0.0.1:0', '--tls-cert-file', certificate.certFile, '--tls-key-file', certificate.keyFile] : []
  // With an SSL listener the address to use is on its own line ("ringlog SSL listener on ...").
  const addressLine = certificate ? /SSL listener on ([^\s]+):(\d+)/ : /listening on ([^\s]+):(\d+)/
  const child = spawn(process.execPath, [...args, 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--flush', flushFlag(options.flush), '--partitions', String(options.partitions ?? 1), ...tlsArgs], {
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
      const match = addressLine.exec(stdout)
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
    tls: clientTls(certificate),
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
