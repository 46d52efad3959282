/**
 * The operations HTTP endpoint of `ringlog serve --metrics-port N`:
 * - GET /metrics: Prometheus text exposition (503 until the broker's registry exists);
 * - GET /health: 200 while the process serves HTTP at all (liveness);
 * - GET /ready: 200 once recovery finished and the Kafka port listens, 503 before that and
 *   from the moment shutdown starts (readiness: take it out of rotation).
 * It starts before the broker opens its data dir, so probes get answers during recovery.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { RinglogMetrics } from './ringlog-metrics.js'

export interface MetricsServerOptions {
  host: string
  /** 0: any free port. */
  port: number
}

export class MetricsServer {
  private ready = false
  private metrics: RinglogMetrics | undefined

  private constructor(private readonly server: Server) {}

  static async start(options: MetricsServerOptions): Promise<MetricsServer> {
    let instance: MetricsServer | undefined
    const server = createServer((req, res) => instance!.handle(req, res))
    instance = new MetricsServer(server)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(options.port, options.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    return instance
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port
  }

  /** The registry /metrics serves (the broker's, once it is open). */
  serve(metrics: RinglogMetrics): void {
    this.metrics = metrics
  }

  setReady(ready: boolean): void {
    this.ready = ready
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.send(res, 405, 'method not allowed\n')
    if (path === '/health') return this.send(res, 200, 'ok\n')
    if (path === '/ready') return this.ready ? this.send(res, 200, 'ready\n') : this.send(res, 503, 'not ready\n')
    if (path === '/metrics') {
      const metrics = this.metrics
      if (!metrics) return this.send(res, 503, 'metrics not available yet\n')
      metrics.metrics().then(
        (text) => this.send(res, 200, text, metrics.contentType),
        (error: unknown) => this.send(res, 500, `collecting metrics failed: ${error instanceof Error ? error.message : String(error)}\n`),
      )
      return
    }
    this.send(res, 404, 'not found (try /metrics, /health, /ready)\n')
  }

  private send(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) })
    res.end(body)
  }
}
