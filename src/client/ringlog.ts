/**
 * `open()`: the embedded log. It opens the same node context a server uses (registry,
 * partition workers, recovery, Kafka's group coordinator with its durable offsets store
 * under `<dataDir>/meta/group-offsets`), and hands out kafkajs-shaped admin, producers and
 * consumers that talk to it in-process.
 *
 * close(): consumers stop (committing what they processed, then leaving their groups),
 * producers flush (everything sent is acknowledged first), then the group coordinator, the
 * offsets store and the engine close (flush + checkpoints, so the next open needs no recovery).
 */
import { openNodeContext, type NodeContext } from '../core/node-context.js'
import { resolveConfig, type FlushPolicy, type RinglogConfig } from '../config.js'
import { InvalidRequestError } from '../errors.js'
import { RinglogMetrics } from '../metrics/ringlog-metrics.js'
import { Admin } from './admin.js'
import { Consumer } from './consumer.js'
import type { LogHost } from './log-host.js'
import { Producer } from './producer.js'
import type { ConsumerOptions, ProducerOptions } from './types.js'

/** `dataDir` is required; every other RinglogConfig key is optional (see config.ts for defaults). */
export type OpenOptions = Partial<Omit<RinglogConfig, 'dataDir' | 'flush'>> & {
  dataDir: string
  /** 'always' (default): acks -1 wait for fdatasync; { intervalMs }: fdatasync every interval; 'never': page cache only. */
  flush?: FlushPolicy
}

export class Ringlog implements LogHost {
  private readonly producers = new Set<Producer>()
  private readonly consumers = new Set<Consumer>()
  private closing: Promise<void> | null = null
  private isClosed = false
  private registry: RinglogMetrics | undefined

  /** @internal use `open()` */
  constructor(readonly context: NodeContext) {}

  /** The resolved configuration (defaults filled in). */
  get config(): Readonly<RinglogConfig> {
    return this.context.config
  }

  get closed(): boolean {
    return this.isClosed
  }

  /**
   * Prometheus metrics of this log (partition offsets and counters, fdatasync latency, group
   * lag, Node process metrics), collected when read: mount `metrics().registry` on your own
   * HTTP server, or serve `await metrics().metrics()` with `metrics().contentType`.
   */
  metrics(): RinglogMetrics {
    this.registry ??= new RinglogMetrics(this.context)
    return this.registry
  }

  release(client: object): void {
    this.producers.delete(client as Producer)
    this.consumers.delete(client as Consumer)
  }

  admin(): Admin {
    return new Admin(this)
  }

  producer(options: ProducerOptions = {}): Producer {
    const producer = new Producer(this, options)
    this.producers.add(producer)
    return producer
  }

  consumer(options: ConsumerOptions): Consumer {
    const consumer = new Consumer(this, options)
    this.consumers.add(consumer)
    return consumer
  }

  /** Stops consumers, flushes producers, closes the groups and the engine. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.closeOnce()
    return this.closing
  }

  private async closeOnce(): Promise<void> {
    await Promise.allSettled([...this.consumers].map((c) => c.disconnect()))
    await Promise.allSettled([...this.producers].map((p) => p.disconnect()))
    this.isClosed = true
    await this.context.close()
  }
}

/** Opens (creating if needed) the log in `options.dataDir`; recovery runs if the last close was not clean. */
export async function open(options: OpenOptions): Promise<Ringlog> {
  if (!options || typeof options !== 'object' || typeof options.dataDir !== 'string' || options.dataDir === '') {
    throw new InvalidRequestError('open() needs { dataDir }')
  }
  const config = resolveConfig(options)
  // The context wires the group coordinator and its offsets store, shared with the wire server.
  const context = await openNodeContext(config)
  return new Ringlog(context)
}
