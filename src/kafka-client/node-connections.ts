/**
 * Connections to the brokers a request must reach (a group's coordinator, a partition's leader)
 * opened from one bootstrap connection: the bootstrap connection is reused when it is that
 * broker, others are opened once, negotiated (and logged in, with the options' SASL / TLS), and closed by close(). The bootstrap connection
 * stays the caller's to close.
 */
import type { KafkaWireClient } from './kafka-wire-client.js'
import { connectNegotiated, type ToolConnectOptions } from './negotiated-client.js'

/** `host:port`, with an IPv6 host in brackets. */
export function addressOf(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

export class NodeConnections {
  private readonly opened = new Map<string, Promise<KafkaWireClient>>()

  constructor(readonly bootstrap: KafkaWireClient, private readonly options: ToolConnectOptions = {}) {}

  /** A negotiated connection to the broker at `host:port`. */
  to(host: string, port: number): Promise<KafkaWireClient> {
    if (host === this.bootstrap.host && port === this.bootstrap.port) return Promise.resolve(this.bootstrap)
    const address = addressOf(host, port)
    let connection = this.opened.get(address)
    if (!connection) {
      connection = connectNegotiated(address, { clientId: this.bootstrap.clientId, ...this.options })
      this.opened.set(address, connection)
    }
    return connection
  }

  /** Closes every connection this opened (not the bootstrap one). */
  async close(): Promise<void> {
    const all = [...this.opened.values()]
    this.opened.clear()
    await Promise.all(all.map((c) => c.then((client) => client.close(), () => undefined)))
  }
}
