/**
 * The Kafka wire-protocol server: one net or TLS server per listener (default: one PLAINTEXT
 * listener on config.host/config.port; see security/listeners.ts) whose connections
 * (connection.ts) dispatch to the handlers in handlers/index.ts against one NodeContext.
 *
 * stop(): in cluster mode a controlled shutdown first (still serving); then stop accepting, stop
 * reading from every connection, let parked long polls answer, write every response already owed
 * (bounded by timeoutMs), close the sockets, then close the context it opened (engine flush +
 * checkpoints).
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls'
import type { RinglogConfig } from '../config.js'
import { ApiRegistry } from './api-registry.js'
import { Connection } from './connection.js'
import { openNodeContext, type NodeContext } from '../core/node-context.js'
import { HANDLERS } from './handlers/index.js'
import { stderrLogger, type BrokerLogger } from './logger.js'
import { RinglogMetrics } from '../metrics/ringlog-metrics.js'
import { BrokerObserver } from './broker-observer.js'
import { ConnectionLimits } from './connection-limits.js'
import { type AdvertisedEndpoint, advertisedEndpoints, resolveListeners, usesTls, type Listener, type ListenerProtocol } from '../security/listeners.js'
import { CredentialStore } from '../security/credential-store.js'
import { isSaslMechanism } from '../security/sasl-authenticator.js'
import { FetchSessionCache } from './fetch-sessions.js'
import { SaslSession, type SaslSettings } from './sasl-session.js'
import { AclStore } from '../security/acl-store.js'
import { Authorizer } from '../security/authorizer.js'
import type { BrokerSecurity } from './broker-security.js'
import type { SharedSecurityStore } from '../security/shared-security-store.js'
import { InvalidConfigError } from '../errors.js'
import { clientCertificatePrincipal, secureContextOptions, tlsServerOptions } from './tls-context.js'

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', ''])

/** The listener's advertised address, else its host (the reached address for a wildcard) and the bound port. */
function advertisedAddress(listener: Listener, socket: Socket): { host: string; port: number } {
  if (listener.advertised) return listener.advertised
  const local = (socket.localAddress ?? '127.0.0.1').replace(/^::ffff:/, '')
  return { host: WILDCARD_HOSTS.has(listener.host) ? local : listener.host, port: socket.localPort ?? listener.port }
}

interface BoundListener {
  listener: Listener
  server: Server | TlsServer
}

export interface BrokerServerOptions {
  logger?: BrokerLogger
  /** Keep Prometheus metrics (see `metrics`). Default false. */
  metrics?: boolean
  /**
   * Cluster mode: the users and ACLs shared through etcd (`ringlog serve --etcd` opens them).
   * Without it the broker uses the files in its own `meta/`.
   */
  sharedSecurity?: SharedSecurityStore
}

export interface StopOptions {
  /** How long in-flight requests get to be answered before sockets are destroyed. Default 10 s. */
  timeoutMs?: number
}

export class BrokerServer {
  private readonly listeners: BoundListener[]
  private readonly sasl: SaslSettings | undefined
  private readonly security: BrokerSecurity
  private readonly connections = new Set<Connection>()
  private readonly registry: ApiRegistry
  private readonly log: BrokerLogger
  private readonly observer: BrokerObserver
  private readonly limits: ConnectionLimits
  /** KIP-227 fetch sessions, shared by every connection (a client may reconnect and keep its session). */
  readonly fetchSessions: FetchSessionCache
  /** The broker's metrics registry, when started with `metrics: true`. */
  readonly metrics: RinglogMetrics | undefined
  private nextConnectionId = 1
  private stopping: Promise<void> | undefined
  /** New connections are refused from here on (after a cluster broker's controlled shutdown). */
  private refusing = false

  private constructor(readonly context: NodeContext, options: BrokerServerOptions) {
    this.log = options.logger ?? stderrLogger
    this.registry = new ApiRegistry(HANDLERS)
    this.metrics = options.metrics ? new RinglogMetrics(context) : undefined
    this.observer = new BrokerObserver(this.log, this.metrics)
    this.limits = new ConnectionLimits(context.config, this.log)
    context.cluster?.onEvent?.((e) => {
      if (e.kind === 'leaderChange') {
        this.log.info('leader change', { topic: e.topic, partition: e.partition, leader: e.leader, leaderEpoch: e.leaderEpoch, role: e.role, isr: e.isr.join(',') })
        return
      }
      // Kafka's "Shrinking ISR" / "Expanding ISR": a shrink is what an operator must look at.
      const shrink = e.to.length < e.from.length
      const fields = { topic: e.topic, partition: e.partition, leaderEpoch: e.leaderEpoch, from: e.from.join(','), to: e.to.join(',') }
      if (shrink) this.log.warn('ISR shrink', fields)
      else this.log.info('ISR expand', fields)
    })
    context.engine.on?.('slowFdatasync', (e) => {
      this.log.warn('slow fdatasync', { topic: e.topic, partition: e.partition, ms: Math.round(e.durationMs), thresholdMs: e.thresholdMs, flushedTo: e.flushedTo })
    })
    this.fetchSessions = new FetchSessionCache({ slots: context.config.maxIncrementalFetchSessionCacheSlots })
    const listeners = resolveListeners(context.config)
    const { config } = context
    const shared = options.sharedSecurity
    // ACLs kept per broker would differ between the brokers of a cluster.
    if (!shared && config.etcd !== '' && config.authorizer === 'on') throw new InvalidConfigError('cluster mode with the authorizer on needs the users and ACLs shared through etcd (ringlog serve opens them)')
    const credentials = shared?.credentials ?? CredentialStore.open(config.dataDir)
    this.sasl = listeners.some((l) => l.protocol.startsWith('SASL_'))
      ? { mechanisms: config.saslMechanisms.filter(isSaslMechanism), store: credentials, reauthMs: config.connectionsMaxReauthMs }
      : undefined
    const authorizer = config.authorizer === 'on'
      ? new Authorizer(shared?.acls ?? AclStore.open(config.dataDir), { superUsers: config.superUsers, allowEveryoneIfNoAclFound: config.allowEveryoneIfNoAclFound })
      : undefined
    this.security = { credentials, authorizer, shared }
    this.listeners = listeners.map((listener) => ({ listener, server: this.createListenerServer(listener) }))
  }

  private createListenerServer(listener: Listener): Server | TlsServer {
    if (!usesTls(listener.protocol)) return createServer({ noDelay: true }, (socket) => this.accept(socket, listener))
    const server = createTlsServer(tlsServerOptions(this.context.config), (socket) => this.accept(socket, listener))
    server.on('tlsClientError', (error, socket) => this.log.warn(`TLS handshake from ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0} failed: ${error.message}`))
    return server
  }

  /** Opens a context from `config` and serves it; stop() closes it. */
  static async start(config: RinglogConfig, options: BrokerServerOptions = {}): Promise<BrokerServer> {
    const log = options.logger ?? stderrLogger
    // Its cluster node's inter-broker connections report their failures in the broker's log.
    const context = await openNodeContext(config, (message) => log.warn(message))
    let broker: BrokerServer
    try {
      broker = new BrokerServer(context, options)
      await broker.bind()
      // Cluster mode with --port 0 or listeners: etcd gets every listener's endpoint with the ports just bound (registration waited for them).
      if (config.port === 0 || config.listeners.length > 0) await context.cluster?.registerListeners?.(broker.advertisedEndpoints())
    } catch (error) {
      await context.close()
      throw error
    }
    return broker
  }

  /** The bound address of the first listener (the real port when config.port is 0). */
  address(): { host: string; port: number } {
    return this.listenerAddress(this.listeners[0].listener.protocol)!
  }

  /** Every listener's endpoint as other brokers and clients are told it (advertised, else the bound port). */
  advertisedEndpoints(): AdvertisedEndpoint[] {
    const bound = new Map(this.listeners.map((l) => [l.listener, (l.server.address() as AddressInfo).port]))
    return advertisedEndpoints(this.listeners.map((l) => l.listener), this.context.config, (listener) => bound.get(listener) ?? listener.port)
  }

  /** The bound address of the listener with this security protocol, if there is one. */
  listenerAddress(protocol: ListenerProtocol): { host: string; port: number } | undefined {
    const bound = this.listeners.find((l) => l.listener.protocol === protocol)
    if (!bound) return undefined
    const a = bound.server.address() as AddressInfo
    return { host: a.address, port: a.port }
  }

  /**
   * SIGHUP: TLS listeners re-read their certificate, key and CA for new handshakes (open
   * connections stay as they are), the credentials file and the ACL file are re-read, in that
   * order. Each is parsed whole before it replaces what the broker held: a file that cannot be
   * read throws InvalidConfigError and keeps its previous contents (the steps before it stay done).
   */
  reloadSecurity(): void {
    const tls = this.listeners.filter((l) => usesTls(l.listener.protocol))
    const options = tls.length > 0 ? secureContextOptions(this.context.config) : undefined
    for (const { server } of tls) (server as TlsServer).setSecureContext(options!)
    this.security.credentials.reload()
    this.security.authorizer?.store.reload()
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

  private async bind(): Promise<void> {
    try {
      for (const bound of this.listeners) await this.bindOne(bound)
    } catch (error) {
      for (const { server } of this.listeners) if (server.listening) server.close()
      throw error
    }
  }

  private bindOne({ listener, server }: BoundListener): Promise<void> {
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(listener.port, listener.host, () => {
        server.off('error', reject)
        server.on('error', (error) => this.onServerError(error, listener))
        resolve()
      })
    })
  }

  private accept(socket: Socket, listener: Listener): void {
    if (this.refusing) {
      socket.destroy()
      return
    }
    if (!this.admit(socket)) return
    const tlsPrincipal = usesTls(listener.protocol) ? clientCertificatePrincipal(socket as TLSSocket) : undefined
    if (tlsPrincipal) this.log.debug?.(`${listener.protocol} connection from ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0} with client certificate ${tlsPrincipal}`)
    const connection = new Connection(socket, {
      id: this.nextConnectionId++, broker: this.context, registry: this.registry, log: this.log, observer: this.observer, fetchMeter: this.metrics,
      limits: this.limits, fetchSessions: this.fetchSessions,
      session: new SaslSession(listener.protocol, this.sasl, tlsPrincipal), advertised: advertisedAddress(listener, socket),
      security: this.security,
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
  private onServerError(error: NodeJS.ErrnoException, listener: Listener): void {
    if (error.code === 'EMFILE' || error.code === 'ENFILE') this.limits.acceptFailed(error)
    else this.log.error(`${listener.protocol} listener error: ${error.message}`)
  }

  private async stopOnce(timeoutMs: number): Promise<void> {
    // Cluster mode: leaderships move first, while this broker still answers (clients are told
    // NOT_LEADER_OR_FOLLOWER and followers keep fetching), as Kafka orders its shutdown. Closing
    // the connections first held the handoff behind every connection's close (up to 1 s).
    await this.context.cluster?.controlledShutdown?.()
    this.refusing = true
    this.limits.stop()
    const closed = Promise.all(this.listeners.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve()))))
    await Promise.all([...this.connections].map((c) => c.shutdown(timeoutMs)))
    await closed
    await this.context.close()
  }
}
