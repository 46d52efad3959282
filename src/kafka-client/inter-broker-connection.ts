/**
 * How a broker opens its connections to the other brokers of its cluster (replica fetchers,
 * WriteTxnMarkers from the transaction coordinator, scrub repairs): over the inter-broker
 * listener every broker registered in etcd, with TLS when that listener is SSL/SASL_SSL (trusting
 * `tlsCaFile`, presenting the broker's own certificate for mTLS) and a SASL login when it is
 * SASL_* (`--inter-broker-sasl user:password`, Kafka's inter-broker JAAS login). Each broker's
 * cluster node holds its own InterBrokerConnector with these settings. A refused login or a connection that
 * cannot be opened is logged (once per peer and 30 s), never swallowed: otherwise a follower
 * that cannot authenticate would only show as one that never catches up.
 */
import { readFileSync } from 'node:fs'
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'
import type { KafkaWireClient, WireClientOptions } from './kafka-wire-client.js'
import { connectNegotiated } from './negotiated-client.js'
import { parseSaslLogin, type SaslLogin } from './sasl-login.js'
import { parseListenerSpec } from '../security/listeners.js'

export interface InterBrokerSettings {
  /** The listener protocol the connection goes to (for the log line). */
  protocol: string
  sasl?: SaslLogin
  tls?: TlsConnectionOptions
}

/** What a broker's config says about its inter-broker connections (the fields of RinglogConfig it reads). */
export interface InterBrokerConfig {
  listeners: readonly string[]
  interBrokerListener: string
  interBrokerSasl: string
  interBrokerSaslMechanism: string
  tlsCaFile: string
  tlsCertFile: string
  tlsKeyFile: string
}

const REPORT_INTERVAL_MS = 30_000

const reportToStderr = (message: string): void => { process.stderr.write(`ringlog cluster: ${message}\n`) }

/** The inter-broker listener's protocol: the one named, else the first listener's (PLAINTEXT without listeners). */
export function interBrokerProtocol(config: Pick<InterBrokerConfig, 'listeners' | 'interBrokerListener'>): string {
  if (config.interBrokerListener !== '') return config.interBrokerListener
  const first = config.listeners[0]
  return first === undefined ? 'PLAINTEXT' : parseListenerSpec(first, 'listeners').protocol
}

/** Settings from a broker config (called once at start by the broker server). */
export function interBrokerSettingsOf(config: InterBrokerConfig): InterBrokerSettings {
  const protocol = interBrokerProtocol(config)
  const out: InterBrokerSettings = { protocol }
  if (protocol.startsWith('SASL_') && config.interBrokerSasl !== '') out.sasl = parseSaslLogin(config.interBrokerSasl, config.interBrokerSaslMechanism)
  if (protocol === 'SSL' || protocol === 'SASL_SSL') {
    out.tls = {
      ...(config.tlsCaFile !== '' && { ca: readFileSync(config.tlsCaFile) }),
      ...(config.tlsCertFile !== '' && config.tlsKeyFile !== '' && { cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile) }),
    }
  }
  return out
}

/**
 * One broker's connections to the others: its settings and its failure reports. Each broker
 * holds its own (never process-wide: a broker started in the same process after one with TLS
 * listeners, or a test's replica fetcher there, would otherwise speak TLS to a plaintext peer).
 */
export class InterBrokerConnector {
  private readonly lastReported = new Map<string, number>()

  constructor(readonly settings: InterBrokerSettings = { protocol: 'PLAINTEXT' }, private readonly report: (message: string) => void = reportToStderr) {}

  /** A negotiated (and, on a SASL listener, authenticated) connection to another broker. */
  async connect(address: string, options: WireClientOptions = {}): Promise<KafkaWireClient> {
    const { settings } = this
    try {
      const client = await connectNegotiated(address, {
        ...options,
        ...(settings.sasl && { sasl: settings.sasl }),
        ...(settings.tls && { tls: settings.tls }),
      })
      this.lastReported.delete(address)
      return client
    } catch (error) {
      this.reportFailure(address, error)
      throw error
    }
  }

  private reportFailure(address: string, error: unknown, nowMs = Date.now()): void {
    if ((this.lastReported.get(address) ?? -Infinity) > nowMs - REPORT_INTERVAL_MS) return
    this.lastReported.set(address, nowMs)
    const login = this.settings.sasl ? ` as ${this.settings.sasl.username} (${this.settings.sasl.mechanism})` : ''
    this.report(`inter-broker connection to ${address} over ${this.settings.protocol}${login} failed: ${error instanceof Error ? error.message : String(error)}`)
  }
}
