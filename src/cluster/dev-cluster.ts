/**
 * A development cluster on one machine: a private etcd (etcd-process.ts) and N broker processes
 * (`ringlog serve --etcd ...`) on consecutive loopback ports, each with its own data dir under
 * one directory. What `ringlog cluster up` runs and what `startBroker({ cluster: N })` returns,
 * so a user's failover test can kill -9 a broker and start it again.
 *
 * Layout of `dataDir`: `etcd/` (etcd's data), `broker-<id>/` (each broker's), and
 * `dev-cluster.json` (etcd's ports and the cluster name, so `cluster up` on the same dir brings
 * the same cluster back and `cluster status --data-dir` finds its etcd).
 *
 * Brokers are child processes, not threads of the caller: a kill is a real SIGKILL of a real
 * process, as in production. Each is stopped by its PID; none outlives stop().
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ApiKey } from '../kafka-client/kafka-wire-client.js'
import { withWireClient } from '../kafka-client/negotiated-client.js'
import { EtcdProcess, freeLoopbackPort } from './etcd-process.js'

/** The CLI launcher, two levels above this file in src/ and in dist/ alike. */
const RINGLOG_BIN = fileURLToPath(new URL('../../bin/ringlog.js', import.meta.url))
const STATE_FILE = 'dev-cluster.json'
const DEFAULT_START_TIMEOUT_MS = 30_000
const STOP_GRACE_MS = 15_000
const OUTPUT_TAIL_CHARS = 8192

export interface DevClusterOptions {
  /** Brokers to start, ids 1..N. */
  brokers: number
  /** Holds etcd's and every broker's data; created if missing. */
  dataDir: string
  /** Port of broker 1; broker i listens on firstPort + i - 1. 0 (default): any free ports. */
  firstPort?: number
  /** Address the brokers listen on and advertise. Default 127.0.0.1. */
  host?: string
  /** etcd key prefix /ringlog/<name>/. Default 'dev'. */
  clusterName?: string
  /** etcd binary. Default /usr/bin/etcd (Debian's etcd-server). */
  etcdBinary?: string
  /** Further `ringlog serve` flags for every broker (e.g. ['--flush', 'never', '--lease-ttl-seconds', '3']). */
  serveArgs?: string[]
  /** Node.js flags for every broker process (e.g. ['--cpu-prof', '--cpu-prof-dir', dir] to profile a bench). */
  nodeArgs?: string[]
  /** Broker log level. Default 'warn'. */
  logLevel?: string
  /** Called with each line a broker writes on stderr (its log), e.g. to relay it. Default: kept in a tail only. */
  onLog?: (brokerId: number, line: string) => void
  /** Bound on each broker's start. Default 30 s. */
  startTimeoutMs?: number
  /** The `ringlog` launcher to run (another build's bin/ringlog.js, for a same-run A/B bench). Default: this build's. */
  bin?: string
}

export interface DevBroker {
  readonly id: number
  readonly host: string
  readonly port: number
  readonly dataDir: string
  /** PID of the running process, undefined while the broker is down. */
  readonly pid: number | undefined
  readonly alive: boolean
  /** Port of its /metrics, /health and /ready, when started with `--metrics-port` (as printed at its last start). */
  readonly metricsPort: number | undefined
}

interface SavedState { clusterName: string; etcdClientPort: number; etcdPeerPort: number }

/** The etcd endpoint and cluster name a `cluster up` data dir records, if it holds one. */
export function readDevClusterState(dataDir: string): { etcd: string; clusterName: string } | undefined {
  const state = readSavedState(dataDir)
  return state && { etcd: `127.0.0.1:${state.etcdClientPort}`, clusterName: state.clusterName }
}

function readSavedState(dataDir: string): SavedState | undefined {
  const path = join(dataDir, STATE_FILE)
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) as SavedState : undefined
}

class BrokerProcess implements DevBroker {
  private child: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()
  private tail = ''
  metricsPort: number | undefined

  constructor(readonly id: number, readonly host: string, readonly port: number, readonly dataDir: string, private readonly args: string[],
    private readonly onLog: ((brokerId: number, line: string) => void) | undefined, private readonly startTimeoutMs: number,
    private readonly nodeArgs: readonly string[] = [], private readonly bin = RINGLOG_BIN) {}

  get pid(): number | undefined { return this.child?.pid }
  get alive(): boolean { return this.child !== undefined }

  /** Spawns `ringlog serve` and resolves once it prints its listening line (it registered in etcd before that). */
  async start(): Promise<void> {
    if (this.child) throw new Error(`broker ${this.id} is already running (pid ${this.child.pid})`)
    mkdirSync(this.dataDir, { recursive: true })
    const child = spawn(process.execPath, [...this.nodeArgs, this.bin, 'serve', ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    this.tail = ''
    this.metricsPort = undefined
    this.exited = new Promise((resolve) => child.once('close', () => {
      if (this.child === child) this.child = undefined
      resolve()
    }))
    child.once('error', (error) => { this.keep(`\n${error.message}`) })
    let pending = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8')
      this.keep(text)
      if (!this.onLog) return
      pending += text
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) if (line !== '') this.onLog(this.id, line)
    })
    let stdout = ''
    await new Promise<void>((resolve, reject) => {
      const fail = (why: string): void => {
        clearTimeout(timer)
        reject(new Error(`broker ${this.id} ${why}:\n${this.tail}`))
      }
      const timer = setTimeout(() => {
        fail(`did not start within ${this.startTimeoutMs} ms`)
        void this.kill()
      }, this.startTimeoutMs)
      child.stdout?.on('data', (chunk: Buffer) => {
        const text = chunk.toString('utf8')
        this.keep(text)
        stdout += text
        const metrics = /ringlog metrics on http:\/\/[^\s]*:(\d+)\/metrics/.exec(stdout)
        if (metrics) this.metricsPort = Number(metrics[1])
        if (stdout.includes('ringlog listening')) {
          clearTimeout(timer)
          stdout = ''
          resolve()
        }
      })
      void this.exited.then(() => fail(`exited during start-up (code ${child.exitCode ?? child.signalCode})`))
    })
  }

  /** SIGKILL: a crash, no controlled shutdown. Resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.child
    if (!child) return
    child.kill('SIGKILL')
    await this.exited
  }

  /** SIGTERM (controlled shutdown: leaderships move first), SIGKILL after a grace time. */
  async stop(): Promise<void> {
    const child = this.child
    if (!child) return
    child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const late = await Promise.race([this.exited.then(() => false), new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), STOP_GRACE_MS) })])
    clearTimeout(timer)
    if (late) await this.kill()
  }

  /** The tail of what the broker wrote (stdout and stderr), for failure messages. */
  get output(): string { return this.tail }

  private keep(text: string): void {
    this.tail = (this.tail + text).slice(-OUTPUT_TAIL_CHARS)
  }
}

export class DevCluster {
  private stopping: Promise<void> | undefined

  private constructor(readonly etcd: EtcdProcess, readonly clusterName: string, private readonly members: BrokerProcess[]) {}

  /** Starts etcd, then every broker (in parallel); on any failure stops what started and rejects. */
  static async start(options: DevClusterOptions): Promise<DevCluster> {
    const count = options.brokers
    if (!Number.isInteger(count) || count < 1 || count > 64) throw new RangeError(`brokers must be an integer from 1 to 64, got ${count}`)
    const host = options.host ?? '127.0.0.1'
    mkdirSync(options.dataDir, { recursive: true })
    const saved = readSavedState(options.dataDir)
    const clusterName = options.clusterName ?? saved?.clusterName ?? 'dev'
    // The same etcd ports as last time: etcd keeps its member's peer URL in its data dir.
    const etcd = await EtcdProcess.start({
      binary: options.etcdBinary, dataDir: join(options.dataDir, 'etcd'),
      clientPort: saved?.etcdClientPort, peerPort: saved?.etcdPeerPort,
    })
    const state: SavedState = { clusterName, etcdClientPort: etcd.clientPort, etcdPeerPort: etcd.peerPort }
    writeFileSync(join(options.dataDir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`)
    const members: BrokerProcess[] = []
    for (let id = 1; id <= count; id++) {
      const port = options.firstPort ? options.firstPort + id - 1 : await freeLoopbackPort()
      const dataDir = join(options.dataDir, `broker-${id}`)
      const args = ['--node-id', String(id), '--host', host, '--port', String(port), '--data-dir', dataDir,
        '--etcd', etcd.endpoint, '--cluster-name', clusterName, '--log-level', options.logLevel ?? 'warn', ...(options.serveArgs ?? [])]
      members.push(new BrokerProcess(id, host, port, dataDir, args, options.onLog, options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS, options.nodeArgs, options.bin))
    }
    const cluster = new DevCluster(etcd, clusterName, members)
    const started = await Promise.allSettled(members.map((m) => m.start()))
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected')
    if (failed) {
      await cluster.stop()
      throw failed.reason
    }
    try {
      await cluster.untilEveryBrokerSeesAll(options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS)
    } catch (error) {
      await cluster.stop()
      throw error
    }
    return cluster
  }

  /**
   * Waits until every broker's Metadata lists every broker. A broker is "listening" once it has
   * registered, but the others learn of it from their etcd watch a moment later; a CreateTopics
   * before that refuses a replication factor above the brokers it has seen
   * (INVALID_REPLICATION_FACTOR: "larger than available brokers").
   */
  private async untilEveryBrokerSeesAll(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    const count = this.members.length
    for (const member of this.members) {
      const address = `${member.host}:${member.port}`
      for (;;) {
        const seen = await withWireClient(address, async (client) => {
          const response = await client.request(ApiKey.Metadata, client.version(ApiKey.Metadata), { topics: [] })
          return response.brokers.length
        }, { connectTimeoutMs: 2_000, requestTimeoutMs: 2_000 }).catch(() => 0)
        if (seen >= count) break
        if (Date.now() > deadline) throw new Error(`broker ${member.id} sees ${seen} of ${count} brokers after ${timeoutMs} ms`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  }

  /** Every broker, running or not. */
  get brokers(): readonly DevBroker[] { return this.members }

  /** `host:port` of every broker: what a Kafka client's bootstrap list takes. */
  get bootstrap(): string[] { return this.members.map((m) => `${m.host}:${m.port}`) }

  /** kill -9 of one broker (no controlled shutdown; its leaderships move when its etcd lease expires). */
  killBroker(id: number): Promise<void> { return this.member(id).kill() }

  /** SIGTERM of one broker: it hands its leaderships off, then exits. */
  stopBroker(id: number): Promise<void> { return this.member(id).stop() }

  /** Starts a stopped or killed broker again on its port and data dir (a running one is killed first). */
  async restartBroker(id: number): Promise<void> {
    const member = this.member(id)
    await member.kill()
    await member.start()
  }

  /** What one broker wrote lately (its log lines), for failure messages. */
  output(id: number): string { return this.member(id).output }

  /** Stops every broker (SIGTERM, in parallel), then etcd. Idempotent; data stays in dataDir. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all(this.members.map((m) => m.stop()))
      await this.etcd.stop()
    })()
    return this.stopping
  }

  private member(id: number): BrokerProcess {
    const member = this.members.find((m) => m.id === id)
    if (!member) throw new RangeError(`no broker ${id} in this cluster (ids 1..${this.members.length})`)
    return member
  }
}
