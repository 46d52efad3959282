/**
 * A private etcd server on loopback ports with its own data dir: what the cluster tests run
 * against and what `ringlog cluster up` will start. The process is stopped by its PID
 * (SIGTERM, then SIGKILL after a bound); `stop()` keeps the data dir so `start()` again brings
 * the same cluster state back (the fault tests stop etcd and restart it), `destroy()` removes it.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface EtcdOptions {
  /** etcd binary (default `/usr/bin/etcd`, Debian's etcd-server). */
  binary?: string
  /** Data dir; a fresh temporary one (removed by `destroy()`) when omitted. */
  dataDir?: string
  /** Ports; free loopback ports are picked when omitted. */
  clientPort?: number
  peerPort?: number
  /** Bound on the wait for a healthy server, per start. */
  startTimeoutMs?: number
}

const DEFAULT_START_TIMEOUT_MS = 20_000
const STOP_GRACE_MS = 5_000
const HEALTH_POLL_MS = 50

/** Lowest port tried below the kernel's ephemeral range. */
const FIXED_PORTS_FROM = 10_000
const FREE_PORT_ATTEMPTS = 50

/** The low end of the kernel's ephemeral port range (Linux's default when it cannot be read). */
function ephemeralPortsFrom(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    return Number.isInteger(low) && low > 0 ? low : 32_768
  } catch {
    return 32_768
  }
}

/** Listens on `port` (0: the kernel picks one) on 127.0.0.1 and closes again: the port, or undefined if it was taken. */
function probeLoopbackPort(port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(undefined) : reject(error)))
    server.listen(port, '127.0.0.1', () => {
      const address = server.address()
      const bound = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => (bound > 0 ? resolve(bound) : reject(new Error('no port assigned'))))
    })
  })
}

/**
 * A port free on 127.0.0.1 just now, for a process started next to listen on. It is taken from
 * below the kernel's ephemeral range: a port the kernel hands out for port 0 is also what it hands
 * to outgoing connections, and one of those took it before the broker bound it (a test saw
 * "address already in use" with many clients connecting). Falls back to the kernel's choice.
 */
export async function freeLoopbackPort(): Promise<number> {
  const below = ephemeralPortsFrom()
  if (below - FIXED_PORTS_FROM >= 1_000) {
    for (let attempt = 0; attempt < FREE_PORT_ATTEMPTS; attempt++) {
      const port = await probeLoopbackPort(FIXED_PORTS_FROM + Math.floor(Math.random() * (below - FIXED_PORTS_FROM)))
      if (port !== undefined) return port
    }
  }
  const port = await probeLoopbackPort(0)
  if (port === undefined) throw new Error('no free port on 127.0.0.1')
  return port
}

export class EtcdProcess {
  private child: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()
  private output = ''

  private constructor(
    readonly binary: string,
    readonly dataDir: string,
    readonly clientPort: number,
    readonly peerPort: number,
    private readonly ownsDataDir: boolean,
    private readonly startTimeoutMs: number,
  ) {}

  /** Picks ports and a data dir, starts etcd and waits until it reports healthy. */
  static async start(options: EtcdOptions = {}): Promise<EtcdProcess> {
    const clientPort = options.clientPort ?? (await freeLoopbackPort())
    let peerPort = options.peerPort ?? (await freeLoopbackPort())
    while (peerPort === clientPort) peerPort = await freeLoopbackPort()
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'ringlog-etcd-'))
    const etcd = new EtcdProcess(
      options.binary ?? '/usr/bin/etcd', dataDir, clientPort, peerPort,
      options.dataDir === undefined, options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    )
    try {
      await etcd.start()
    } catch (error) {
      await etcd.destroy()
      throw error
    }
    return etcd
  }

  /** `host:port` for clients (the form `--etcd` takes). */
  get endpoint(): string { return `127.0.0.1:${this.clientPort}` }
  get clientUrl(): string { return `http://${this.endpoint}` }
  get pid(): number | undefined { return this.child?.pid }
  get running(): boolean { return this.child !== undefined }

  /** Starts the server (again, after `stop()`, on the same ports and data dir) and waits for health. */
  async start(): Promise<void> {
    if (this.child) throw new Error(`etcd is already running (pid ${this.child.pid})`)
    const peerUrl = `http://127.0.0.1:${this.peerPort}`
    const args = [
      '--name', 't', '--data-dir', this.dataDir,
      '--listen-client-urls', this.clientUrl, '--advertise-client-urls', this.clientUrl,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', `t=${peerUrl}`,
    ]
    this.output = ''
    const child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    // Keep the last few KiB of output: it is the only explanation when etcd will not start.
    const keep = (chunk: Buffer): void => { this.output = (this.output + chunk.toString('utf8')).slice(-8192) }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    this.child = child
    let exitedEarly = false
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        exitedEarly = true
        if (this.child === child) this.child = undefined
        resolve()
      })
      child.once('error', (error) => {
        this.output += `\n${error.message}`
        exitedEarly = true
        if (this.child === child) this.child = undefined
        resolve()
      })
    })
    const deadline = Date.now() + this.startTimeoutMs
    while (Date.now() < deadline) {
      if (exitedEarly) throw new Error(`etcd exited during start-up:\n${this.output}`)
      if (await this.healthy()) return
      await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_MS))
    }
    await this.stop()
    throw new Error(`etcd was not healthy within ${this.startTimeoutMs} ms:\n${this.output}`)
  }

  /** True when the server answers its /health endpoint with health "true". */
  async healthy(): Promise<boolean> {
    try {
      const response = await fetch(`${this.clientUrl}/health`, { signal: AbortSignal.timeout(1000) })
      const body = (await response.json()) as { health?: string }
      return body.health === 'true'
    } catch {
      return false
    }
  }

  /** Stops the process by PID: SIGTERM, then SIGKILL if it has not exited within a grace time. */
  async stop(): Promise<void> {
    const child = this.child
    if (!child || child.pid === undefined) return
    const exited = this.exited
    child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const graceOver = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), STOP_GRACE_MS) })
    const result = await Promise.race([exited.then(() => 'exited' as const), graceOver])
    clearTimeout(timer)
    if (result === 'timeout') {
      child.kill('SIGKILL')
      await exited
    }
    this.child = undefined
  }

  /** Kills the process with SIGKILL (a crash, not a shutdown); the data dir stays. */
  async kill(): Promise<void> {
    const child = this.child
    if (!child) return
    const exited = this.exited
    child.kill('SIGKILL')
    await exited
    this.child = undefined
  }

  /** Stops the process and removes the data dir if this object created it. */
  async destroy(): Promise<void> {
    await this.stop()
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true })
  }

  /** The tail of etcd's own output, for failure messages. */
  get log(): string { return this.output }
}

/** Starts a private etcd (see `EtcdProcess.start`). */
export function startEtcd(options?: EtcdOptions): Promise<EtcdProcess> {
  return EtcdProcess.start(options)
}
