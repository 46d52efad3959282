/**
 * The Kafka wire-protocol server: a net server on config.host/config.port whose connections
 * (connection.ts) dispatch to the handlers in handlers/index.ts against one NodeContext.
 *
 * stop(): stop accepting, stop reading from every connection, let parked long polls answer,
 * write every response already owed (bounded by timeoutMs), close the sockets, then close the
 * context it opened (engine flush + checkpoints).
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { RinglogConfig } from '../config.js'
import { ApiRegistry } from './api-registry.js'
import { Connection } from './connection.js'
import { openNodeContext, type NodeContext } from '../core/node-context.js'
import { HANDLERS } from './handlers/index.js'
import { stderrLogger, type BrokerLogger } from './logger.js'
import { RinglogMetrics } from '../metrics/ringlog-metrics.js'
import { BrokerObserver } from './broker-observer.js'
import { ConnectionLimits } from './connection-limits.js'

export interface BrokerServerOptions {
  logger?: BrokerLogger
  /** Keep Prometheus metrics (see `metrics`). Default false. */
  metrics?: boolean
}

export interface StopOptions {
  /** How long in-flight requests get to be answered before sockets are destroyed. Default 10 s. */
  timeoutMs?: number
}

export class BrokerServer {
  private readonly server: Server
  private readonly connections = new Set<Connection>()
  private readonly registry: ApiRegistry
  private readonly log: BrokerLogger
  private readonly observer: BrokerObserver
  private readonly limits: ConnectionLimits
  /** The broker's metrics registry, when started with `metrics: true`. */
  readonly metrics: RinglogMetrics | undefined
  private nextConnectionId = 1
  private stopping: Promise<void> | undefined

  private constructor(readonly context: NodeContext, options: BrokerServerOptions) {
    this.log = options.logger ?? stderrLogger
    this.registry = new ApiRegistry(HANDLERS)
    this.metrics = options.metrics ? new RinglogMetrics(context) : undefined
    this.observer = new BrokerObserver(this.log, this.metrics)
    this.limits = new ConnectionLimits(context.config, this.log)
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket))
  }

  /** Opens a context from `config` and serves it; stop() closes it. */
  static async start(config: RinglogConfig, options: BrokerServerOptions = {}): Promise<BrokerServer> {
    const context = await openNodeContext(config)
    const broker = new BrokerServer(context, options)
    try {
      await broker.bind()
    } catch (error) {
      await context.close()
      throw error
    }
    return broker
  }

  /** The bound address (the real port when config.port is 0). */
  address(): { host: string; port: number } {
    const a = this.server.address() as AddressInfo
    return { host: a.address, port: a.port }
  }

  /** The APIs and versions this server answers (what ApiVersions advertises). */
  get supportedApis(): ApiRegistry['supported'] {
    return this.registry.supported
  }

  get connectionCount(): number {
    return this.connections.size
  }

  /** Bytes of incomplete request frames buffered across every connection (bounded by queuedMaxRequestBytes). */
  get partialFrameBytes(): number {
    return this.limits.partialFrameBytes
  }

  stop(options: StopOptions = {}): Promise<void> {
    this.stopping ??= this.stopOnce(options.timeoutMs ?? 10_000)
    return this.stopping
  }

  private bind(): Promise<void> {
    const { host, port } = this.context.config
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        this.server.on('error', (error) => this.onServerError(error))
        resolve()
      })
    })
  }

  private accept(socket: Socket): void {
    if (this.stopping) {
      socket.destroy()
      return
    }
    if (!this.admit(socket)) return
    const connection = new Connection(socket, {
      id: this.nextConnectionId++, broker: this.context, registry: this.registry, log: this.log, observer: this.observer, fetchMeter: this.metrics,
      limits: this.limits,
    })
    this.connections.add(connection)
    void connection.closedOnce.then(() => this.connections.delete(connection))
  }

  /** max.connections and max.connections.per.ip: a socket over either is closed before any byte is read. */
  private admit(socket: Socket): boolean {
    if (this.limits.admit(socket.remoteAddress ?? '?')) return true
    socket.on('error', () => {})
    socket.destroy()
    return false
  }

  /** Accept failures at the open-files limit are expected under load: logged once per interval, serving goes on. */
  private onServerError(error: NodeJS.ErrnoException): void {
    if (error.code === 'EMFILE' || error.code === 'ENFILE') this.limits.acceptFailed(error)
    else this.log.error(`server error: ${error.message}`)
  }

  private async stopOnce(timeoutMs: number): Promise<void> {
    this.limits.stop()
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    await Promise.all([...this.connections].map((c) => c.shutdown(timeoutMs)))
    await closed
    await this.context.close()
  }
}
