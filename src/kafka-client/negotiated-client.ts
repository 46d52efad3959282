/**
 * How the command-line tools reach a broker: the `--bootstrap` address and a negotiated
 * connection of the shared wire client (kafka-wire-client.ts) that is closed whatever
 * the command does.
 */
import { KafkaWireClient, parseHostPort, type WireClientOptions } from './kafka-wire-client.js'
import { saslAuthenticate, type SaslLogin } from './sasl-login.js'

export interface ToolConnectOptions extends WireClientOptions {
  /** Authenticate with SASL after negotiating (a SASL_PLAINTEXT listener). */
  sasl?: SaslLogin
}

/** Where the command-line tools connect unless told otherwise (`--bootstrap`). */
export const DEFAULT_BOOTSTRAP = '127.0.0.1:9092'

/** Connects to `host:port`, negotiates versions and logs in with SASL when asked: the usual start of a tool. */
export async function connectNegotiated(address: string, options: ToolConnectOptions = {}): Promise<KafkaWireClient> {
  const { host, port } = parseHostPort(address)
  const client = await KafkaWireClient.connect(host, port, { clientId: 'ringlog-cli', ...options })
  try {
    await client.negotiate()
    if (options.sasl) await saslAuthenticate(client, options.sasl)
  } catch (error) {
    await client.close()
    throw error
  }
  return client
}

/** Runs `use` with a negotiated connection and closes it afterwards, whatever happens. */
export async function withWireClient<T>(address: string, use: (client: KafkaWireClient) => Promise<T>, options: ToolConnectOptions = {}): Promise<T> {
  const client = await connectNegotiated(address, options)
  try {
    return await use(client)
  } finally {
    await client.close()
  }
}

/**
 * withWireClient, plus `clientAt`: a connection to another broker (a partition's leader), opened
 * once per address with the same options. Every connection is closed once `use` settles.
 */
export async function withBrokerConnections<T>(
  address: string,
  use: (client: KafkaWireClient, clientAt: (address: string) => Promise<KafkaWireClient>) => Promise<T>,
  options: ToolConnectOptions = {},
): Promise<T> {
  const others = new Map<string, Promise<KafkaWireClient>>()
  const clientAt = (other: string): Promise<KafkaWireClient> => {
    let connecting = others.get(other)
    if (!connecting) others.set(other, connecting = connectNegotiated(other, options))
    return connecting
  }
  return withWireClient(address, async (client) => {
    try {
      return await use(client, clientAt)
    } finally {
      for (const connecting of others.values()) await connecting.then((c) => c.close(), () => undefined)
    }
  }, options)
}
