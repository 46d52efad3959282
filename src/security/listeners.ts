/**
 * Kafka-style listener specs: `PROTOCOL://host:port`, the protocol one of PLAINTEXT, SSL,
 * SASL_PLAINTEXT, SASL_SSL (the listener is named by its protocol, so each protocol appears
 * at most once). An advertised spec with the same protocol gives the host/port Metadata
 * names for that listener; without one a connection is told the address it reached.
 */
import { InvalidConfigError } from '../errors.js'

export const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const
export type ListenerProtocol = (typeof SECURITY_PROTOCOLS)[number]

export interface ListenerSpec {
  protocol: ListenerProtocol
  host: string
  port: number
}

export interface Listener extends ListenerSpec {
  /** What Metadata advertises on this listener; undefined: the address the client reached. */
  advertised?: { host: string; port: number }
}

export function usesTls(protocol: ListenerProtocol): boolean {
  return protocol === 'SSL' || protocol === 'SASL_SSL'
}

/** Parses `PROTOCOL://host:port` (IPv6 hosts in brackets); `name` says which setting held it. */
export function parseListenerSpec(text: string, name: string): ListenerSpec {
  const match = /^([A-Z_]+):\/\/(\[[0-9a-fA-F:.]+\]|[^:/\s]*):(\d{1,5})$/.exec(text.trim())
  if (!match) throw new InvalidConfigError(`${name}: "${text}" is not PROTOCOL://host:port`)
  const protocol = match[1]
  if (!(SECURITY_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new InvalidConfigError(`${name}: security protocol ${protocol} is not one of ${SECURITY_PROTOCOLS.join(', ')}`)
  }
  const port = Number(match[3])
  if (port > 65535) throw new InvalidConfigError(`${name}: port ${port} is not from 0 to 65535`)
  const host = match[2].replace(/^\[|\]$/g, '') || '0.0.0.0'
  return { protocol: protocol as ListenerProtocol, host, port }
}

/**
 * The listeners to bind: `listeners` (default: one PLAINTEXT listener on host:port), each
 * with the advertised address of the same protocol. Throws InvalidConfigError on a bad spec,
 * a protocol listed twice, or an advertised protocol without its listener.
 */
export function resolveListeners(
  config: { host: string; port: number; listeners: readonly string[]; advertisedListeners: readonly string[] },
  names: { listeners: string; advertisedListeners: string } = { listeners: 'listeners', advertisedListeners: 'advertisedListeners' },
): Listener[] {
  const specs = config.listeners.length === 0
    ? [{ protocol: 'PLAINTEXT' as const, host: config.host, port: config.port }]
    : config.listeners.map((text) => parseListenerSpec(text, names.listeners))
  const seen = new Set<string>()
  for (const spec of specs) {
    if (seen.has(spec.protocol)) throw new InvalidConfigError(`${names.listeners}: ${spec.protocol} is listed twice`)
    seen.add(spec.protocol)
  }
  const advertised = new Map<string, { host: string; port: number }>()
  for (const text of config.advertisedListeners) {
    const spec = parseListenerSpec(text, names.advertisedListeners)
    if (!seen.has(spec.protocol)) throw new InvalidConfigError(`${names.advertisedListeners}: no ${spec.protocol} listener to advertise`)
    advertised.set(spec.protocol, { host: spec.host, port: spec.port })
  }
  return specs.map((spec) => ({ ...spec, advertised: advertised.get(spec.protocol) }))
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', ''])

/** A listener's endpoint as other brokers and clients are told it (what a cluster broker registers in etcd). */
export interface AdvertisedEndpoint {
  listener: string
  securityProtocol: ListenerProtocol
  host: string
  port: number
}

/**
 * The host each listener is advertised at: its advertised spec's, else `advertisedHost`, else the
 * host it binds, else (for a wildcard) `host`; undefined when all of these are wildcards, which
 * no client can connect to (Kafka refuses to advertise 0.0.0.0 too).
 */
export function advertisedHostOf(listener: Listener, config: { host: string; advertisedHost: string }): string | undefined {
  if (listener.advertised) return listener.advertised.host
  if (config.advertisedHost !== '') return config.advertisedHost
  if (!WILDCARD_HOSTS.has(listener.host)) return listener.host
  return WILDCARD_HOSTS.has(config.host) ? undefined : config.host
}

/**
 * Every listener's advertised endpoint: host as advertisedHostOf says, port the advertised one,
 * else `boundPort(listener)` (the real port when the listener was given port 0).
 */
export function advertisedEndpoints(
  listeners: readonly Listener[], config: { host: string; advertisedHost: string }, boundPort: (listener: Listener) => number,
): AdvertisedEndpoint[] {
  return listeners.map((listener) => {
    const host = advertisedHostOf(listener, config)
    if (host === undefined) throw new InvalidConfigError(`the ${listener.protocol} listener binds ${listener.host || '0.0.0.0'}, which cannot be advertised: give it an advertised address`)
    return { listener: listener.protocol, securityProtocol: listener.protocol, host, port: listener.advertised?.port ?? boundPort(listener) }
  })
}
