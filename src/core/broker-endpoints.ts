/**
 * Which address of a live broker a client is told: the endpoint of the listener its request
 * came in on (Kafka's MetadataCache answers per listener name). A broker registered by an older
 * release has one address, told on every listener as that release did.
 */
import type { ClusterBrokerView } from './cluster-view.js'

export interface HostPort {
  host: string
  port: number
}

/** `broker`'s address for clients of `listener`; undefined when the broker has no such listener. */
export function endpointFor(broker: ClusterBrokerView, listener: string): HostPort | undefined {
  if (broker.endpoints === null) return { host: broker.host, port: broker.port }
  const endpoint = broker.endpoints.find((e) => e.listener === listener)
  return endpoint && { host: endpoint.host, port: endpoint.port }
}

/** The brokers reachable on `listener`, each at its endpoint there; the others are left out (as Kafka does). */
export function brokersOn(brokers: readonly ClusterBrokerView[], listener: string): { id: number; host: string; port: number }[] {
  const out: { id: number; host: string; port: number }[] = []
  for (const broker of brokers) {
    const endpoint = endpointFor(broker, listener)
    if (endpoint) out.push({ id: broker.id, ...endpoint })
  }
  return out
}
