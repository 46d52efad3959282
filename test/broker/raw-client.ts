/**
 * A loosely typed face of the shared wire client for tests: requests in any version with plain
 * object bodies, raw bytes (whole frames or deliberately broken ones), the order responses
 * arrived in, and whether the broker closed the connection. Framing and correlation are the
 * client's (src/kafka-client/kafka-wire-client.ts).
 */
import { responseHeaderVersion } from '../../src/protocol/headers.js'
import { decodeResponseBody, encodeRequestFrame, KafkaWireClient } from '../../src/kafka-client/kafka-wire-client.js'

const CLIENT_ID = 'raw-client'

export class RawClient {
  /** Correlation ids of responses, in arrival order. */
  readonly receivedCorrelationIds: number[] = []

  private constructor(private readonly client: KafkaWireClient) {}

  static async connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new RawClient(await KafkaWireClient.connect(host, port, { clientId: CLIENT_ID, maxResponseBytes: 1024 * 1024 * 1024 }))
  }

  /** Encodes the request with the codec of `apiKey` and returns the decoded response body. */
  async request<T = Record<string, unknown>>(apiKey: number, version: number, body: Record<string, unknown>, options: { expectResponse?: boolean } = {}): Promise<T> {
    const correlationId = this.client.allocateCorrelationId()
    if (options.expectResponse === false) {
      // Written at once, not awaited: a request sent right after lands in the same segment.
      this.client.write(encodeRequestFrame(apiKey, version, correlationId, CLIENT_ID, body))
      return undefined as T
    }
    const { frame, bodyOffset } = await this.exchange(encodeRequestFrame(apiKey, version, correlationId, CLIENT_ID, body), correlationId, responseHeaderVersion(apiKey, version))
    return decodeResponseBody(apiKey, version, frame, bodyOffset) as T
  }

  /** Sends a whole request frame and expects one response frame (returned whole, header included). */
  async send(bytes: Buffer): Promise<Buffer> {
    return (await this.exchange(bytes, bytes.readInt32BE(8), 0)).frame
  }

  /** Writes bytes without expecting a response. */
  write(bytes: Buffer): void {
    this.client.write(bytes)
  }

  /** Builds a request frame (size prefix, header, body) without sending it. */
  static frame(apiKey: number, version: number, correlationId: number, body: Record<string, unknown>): Buffer {
    return encodeRequestFrame(apiKey, version, correlationId, CLIENT_ID, body)
  }

  close(): void {
    void this.client.close()
  }

  /** Resolves true if the broker closes the connection within `ms`. */
  async closesWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const result = await Promise.race([
      this.client.whenClosed().then(() => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms) }),
    ])
    clearTimeout(timer)
    return result
  }

  private exchange(frame: Buffer, correlationId: number, headerVersion: 0 | 1): Promise<{ frame: Buffer; bodyOffset: number }> {
    return new Promise((resolve, reject) => {
      this.client.sendFrame(frame, correlationId, headerVersion, (error, response, bodyOffset) => {
        if (error) return reject(error)
        this.receivedCorrelationIds.push(correlationId)
        resolve({ frame: response!, bodyOffset })
      })
    })
  }
}
