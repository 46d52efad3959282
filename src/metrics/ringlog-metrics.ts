/**
 * ringlog's Prometheus metrics (prom-client), one registry per broker or embedded log.
 *
 * Two kinds of work, kept apart so metrics cost nothing per record:
 * - per request (wire server only): a request counter and latency histogram per API, error
 *   counts by code, connections, and bytes produced/fetched per partition added to plain maps;
 * - at scrape time: partition offsets from the engine's shared state, appended records and
 *   fdatasync latency from the workers' stats (one round trip per worker per scrape), consumer
 *   group lag from committed offsets against high watermarks.
 * Names and meanings are listed in docs/metrics.md.
 */
import { createRequire } from 'node:module'
import type { Counter, Gauge, Registry } from 'prom-client'
import type { ClusterView } from '../core/cluster-view.js'
import type { TopicInfo } from '../core/topic-registry.js'
import type { EngineStats, LogEngine, PartitionOffsets } from '../engine/log-engine.js'
import type { GroupCoordinator } from '../groups/group-coordinator.js'
import { RequestInstruments, scrapedMetric } from './request-instruments.js'

type PromClient = typeof import('prom-client')
let loadedPromClient: PromClient | undefined

/**
 * prom-client, loaded by the first RinglogMetrics (synchronously: the embedded API's metrics()
 * is synchronous). A broker started without --metrics-port never loads it, which saves about
 * 0.1 s of CPU at every start (CLI tests start many brokers).
 */
function promClient(): PromClient {
  loadedPromClient ??= createRequire(import.meta.url)('prom-client') as PromClient
  return loadedPromClient
}

/** What the scrape-time gauges read: the same objects the broker and the embedded API share. */
export interface MetricsSource {
  readonly engine: Pick<LogEngine, 'offsets' | 'stats'>
  readonly topics: { list(): TopicInfo[] }
  readonly groups?: Pick<GroupCoordinator, 'listGroups' | 'fetchOffsets'>
  /** Cluster mode's metadata cache; undefined on a single-node broker and the embedded log. */
  readonly cluster?: Pick<ClusterView, 'nodeId' | 'brokers' | 'controllerId' | 'topics'>
}

export interface RinglogMetricsOptions {
  /** prom-client's Node process metrics (CPU, memory, event loop lag, GC). Default true. */
  processMetrics?: boolean
}

interface PartitionTraffic {
  bytesIn: number
  bytesOut: number
  recordsOut: number
}

const PARTITION_LABELS = ['topic', 'partition'] as const
const SYNC_QUANTILES: readonly (readonly [string, 'p50Ms' | 'p90Ms' | 'p99Ms'])[] = [['0.5', 'p50Ms'], ['0.9', 'p90Ms'], ['0.99', 'p99Ms']]

export class RinglogMetrics {
  readonly registry: Registry = new (promClient().Registry)()
  private readonly traffic = new Map<string, PartitionTraffic[]>()
  private readonly requests: RequestInstruments
  private readonly connectionsOpen: Gauge
  private readonly connectionsAccepted: Counter
  private statsInFlight: Promise<EngineStats | null> | null = null

  constructor(private readonly source: MetricsSource, options: RinglogMetricsOptions = {}) {
    const prom = promClient()
    const registers = [this.registry]
    this.requests = new RequestInstruments(this.registry)
    this.connectionsOpen = new prom.Gauge({ name: 'ringlog_connections_open', help: 'Client connections open now', registers })
    this.connectionsAccepted = new prom.Counter({ name: 'ringlog_connections_accepted_total', help: 'Client connections accepted since start', registers })
    this.registerPartitionMetrics(registers)
    this.registerEngineMetrics(registers)
    this.registerGroupMetrics(registers)
    this.registerClusterMetrics(registers)
    if (options.processMetrics ?? true) prom.collectDefaultMetrics({ register: this.registry })
  }

  /** The Prometheus text exposition of every metric. */
  metrics(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }

  // ------------------------------------------------------------------ per request (wire)

  connectionOpened(): void {
    this.connectionsOpen.inc()
    this.connectionsAccepted.inc()
  }

  connectionClosed(): void {
    this.connectionsOpen.dec()
  }

  requestDone(api: string, seconds: number, errorCodes: readonly number[]): void {
    this.requests.observe(api, seconds, errorCodes)
  }

  /** Record-batch bytes a Produce request delivered to a partition (accepted or not: what came in). */
  produced(topic: string, partition: number, bytes: number): void {
    this.trafficOf(topic, partition).bytesIn += bytes
  }

  /** Bytes (and records, by offsets) a Fetch response carried from a partition. */
  fetched(topic: string, partition: number, bytes: number, records: number): void {
    const t = this.trafficOf(topic, partition)
    t.bytesOut += bytes
    t.recordsOut += records
  }

  private trafficOf(topic: string, partition: number): PartitionTraffic {
    let partitions = this.traffic.get(topic)
    if (!partitions) {
      partitions = []
      this.traffic.set(topic, partitions)
    }
    return (partitions[partition] ??= { bytesIn: 0, bytesOut: 0, recordsOut: 0 })
  }

  // ------------------------------------------------------------------ at scrape time

  /** One stats round trip per scrape, shared by every metric collected in it. */
  private engineStats(): Promise<EngineStats | null> {
    if (!this.statsInFlight) {
      const pending = this.source.engine.stats().catch(() => null)
      this.statsInFlight = pending
      void pending.then(() => setImmediate(() => { if (this.statsInFlight === pending) this.statsInFlight = null }))
    }
    return this.statsInFlight
  }

  private registerPartitionMetrics(registers: Registry[]): void {
    const prom = promClient()
    const labelNames = PARTITION_LABELS
    const source = this.source
    // Read from the engine's shared state (no worker round trip) by each gauge as it is collected.
    const fromOffsets = (name: string, help: string, field: keyof PartitionOffsets): void => {
      new prom.Gauge({ name, help, labelNames, registers, collect() {
        this.reset()
        for (const topic of source.topics.list()) {
          for (let partition = 0; partition < topic.partitions; partition++) {
            const o = source.engine.offsets(topic.name, partition)
            if (o) this.set({ topic: topic.name, partition: String(partition) }, o[field])
          }
        }
      } })
    }
    fromOffsets('ringlog_partition_log_end_offset', 'Offset the next appended record gets', 'logEndOffset')
    fromOffsets('ringlog_partition_high_watermark', 'Offsets below it are visible to consumers (durable per the flush policy)', 'highWatermark')
    fromOffsets('ringlog_partition_log_start_offset', 'First offset still in the log (retention moves it)', 'logStartOffset')

    const traffic = this.traffic
    const fromTraffic = (name: string, help: string, field: keyof PartitionTraffic): void => {
      new prom.Counter({ name, help, labelNames, registers, collect() {
        this.reset()
        for (const [topic, partitions] of traffic) {
          partitions.forEach((t, partition) => { if (t) this.inc({ topic, partition: String(partition) }, t[field]) })
        }
      } })
    }
    fromTraffic('ringlog_partition_bytes_in_total', 'Record-batch bytes received in Produce requests (wire only)', 'bytesIn')
    fromTraffic('ringlog_partition_bytes_out_total', 'Record-batch bytes sent in Fetch responses', 'bytesOut')
    fromTraffic('ringlog_partition_records_out_total', 'Records sent in Fetch responses (by offsets covered)', 'recordsOut')

    const stats = (): Promise<EngineStats | null> => this.engineStats()
    const fromStats = (name: string, help: string, field: 'appendedRecords' | 'appendedBatches' | 'failedAppends' | 'duplicateBatches'): void => {
      new prom.Counter({ name, help, labelNames, registers, async collect() {
        const s = await stats()
        this.reset()
        for (const p of s?.perPartition ?? []) this.inc({ topic: p.topic, partition: String(p.partition) }, p[field])
      } })
    }
    fromStats('ringlog_partition_records_in_total', 'Records appended since the partition opened (wire and embedded producers)', 'appendedRecords')
    fromStats('ringlog_partition_batches_in_total', 'Record batches appended since the partition opened', 'appendedBatches')
    fromStats('ringlog_partition_failed_appends_total', 'Appends refused since the partition opened (any error)', 'failedAppends')
    fromStats('ringlog_partition_duplicate_batches_total', 'Idempotent-producer retries answered without appending', 'duplicateBatches')

    this.registry.registerMetric(fdatasyncSummary(stats))
  }

  private registerEngineMetrics(registers: Registry[]): void {
    const prom = promClient()
    const stats = (): Promise<EngineStats | null> => this.engineStats()
    new prom.Gauge({ name: 'ringlog_engine_workers', help: 'Partition worker threads alive', registers, async collect() {
      const s = await stats()
      if (s) this.set(s.workers)
    } })
    new prom.Counter({ name: 'ringlog_engine_worker_restarts_total', help: 'Partition worker threads that died and were replaced', registers, async collect() {
      const s = await stats()
      this.reset()
      if (s) this.inc(s.workerRestarts)
    } })
    // The background scrubber (storage/scrub.ts), per partition: its progress and what it found.
    const fromScrub = (name: string, help: string, field: 'passes' | 'scannedBytes' | 'corruptBatches' | 'repairedBatches'): void => {
      new prom.Counter({ name, help, labelNames: ['topic', 'partition'], registers, async collect() {
        const s = await stats()
        this.reset()
        for (const p of s?.perPartition ?? []) this.inc({ topic: p.topic, partition: String(p.partition) }, p.scrub[field])
      } })
    }
    fromScrub('ringlog_scrub_passes_total', 'Scrub passes over the closed segments completed since the partition opened', 'passes')
    fromScrub('ringlog_scrub_scanned_bytes_total', 'Bytes of closed segments whose batches the scrubber re-checked', 'scannedBytes')
    fromScrub('ringlog_scrub_corrupt_batches_total', 'Damaged batches (or segment tails) the scrubber found; their ranges are refused with KAFKA_STORAGE_ERROR', 'corruptBatches')
    fromScrub('ringlog_scrub_repaired_batches_total', 'Damaged ranges rewritten with an intact copy from the partition leader (cluster mode) and served again', 'repairedBatches')
    // The log cleaner (storage/log-cleaner.ts), per compacted partition: passes and what they removed.
    const fromCleaner = (name: string, help: string, field: 'passes' | 'cleanedBytes' | 'removedBytes' | 'removedRecords'): void => {
      new prom.Counter({ name, help, labelNames: ['topic', 'partition'], registers, async collect() {
        const s = await stats()
        this.reset()
        for (const p of s?.perPartition ?? []) if (p.cleaner) this.inc({ topic: p.topic, partition: String(p.partition) }, p.cleaner[field])
      } })
    }
    fromCleaner('ringlog_cleaner_passes_total', 'Log cleaner passes completed since the partition opened (cleanup.policy=compact)', 'passes')
    fromCleaner('ringlog_cleaner_cleaned_bytes_total', 'Bytes of closed segments the log cleaner read and rewrote', 'cleanedBytes')
    fromCleaner('ringlog_cleaner_removed_bytes_total', 'Bytes the log cleaner removed from rewritten segments', 'removedBytes')
    fromCleaner('ringlog_cleaner_removed_records_total', 'Records the log cleaner removed: superseded by a newer record of their key, or tombstones past delete.retention.ms', 'removedRecords')
    const ringLabels = ['worker', 'ring']
    const fromRings = (name: string, help: string, used: 'UsedBytes' | 'CapacityBytes'): void => {
      new prom.Gauge({ name, help, labelNames: ringLabels, registers, async collect() {
        const s = await stats()
        this.reset()
        for (const r of s?.rings ?? []) {
          this.set({ worker: String(r.worker), ring: 'request' }, r[`request${used}`])
          this.set({ worker: String(r.worker), ring: 'reply' }, r[`reply${used}`])
        }
      } })
    }
    fromRings('ringlog_worker_ring_used_bytes', 'Bytes in a worker ring not yet consumed (request: main thread to worker; reply: worker to main thread)', 'UsedBytes')
    fromRings('ringlog_worker_ring_capacity_bytes', 'Size of a worker ring\'s payload area', 'CapacityBytes')
    new prom.Gauge({ name: 'ringlog_worker_ring_queued_writes', help: 'Writes waiting on the main thread for room in a worker\'s full request ring', labelNames: ['worker'], registers, async collect() {
      const s = await stats()
      this.reset()
      for (const r of s?.rings ?? []) this.set({ worker: String(r.worker) }, r.queuedWrites)
    } })
    new prom.Counter({ name: 'ringlog_worker_ring_full_writes_total', help: 'Writes that found a worker\'s request ring full and queued, since the worker started', labelNames: ['worker'], registers, async collect() {
      const s = await stats()
      this.reset()
      for (const r of s?.rings ?? []) this.inc({ worker: String(r.worker) }, r.fullRingWrites)
    } })
    new prom.Gauge({ name: 'ringlog_partitions_recovered', help: 'Partitions whose open found no clean-shutdown marker and scanned their segments', registers, async collect() {
      const s = await stats()
      if (s) this.set(s.perPartition.filter((p) => p.recovered).length)
    } })
  }

  /**
   * Cluster mode, from the metadata cache (no etcd read per scrape), with Kafka's per-broker
   * semantics so that sum() over brokers counts each partition once: ISR size and
   * under-replication on the partition's leader, offline partitions on the controller only.
   */
  private registerClusterMetrics(registers: Registry[]): void {
    const prom = promClient()
    const source = this.source
    const led = (cluster: NonNullable<MetricsSource['cluster']>): { topic: string; partition: number; isr: number; replicas: number }[] =>
      cluster.topics().flatMap((t) => t.partitions.filter((p) => p.leader === cluster.nodeId).map((p) => ({ topic: t.name, partition: p.partition, isr: p.isr.length, replicas: p.replicas.length })))
    new prom.Gauge({ name: 'ringlog_partition_isr_size', help: 'In-sync replicas (leader included) of each partition this broker leads (cluster mode)', labelNames: PARTITION_LABELS, registers, collect() {
      this.reset()
      if (source.cluster) for (const p of led(source.cluster)) this.set({ topic: p.topic, partition: String(p.partition) }, p.isr)
    } })
    new prom.Gauge({ name: 'ringlog_partition_replicas', help: 'Assigned replicas (replication factor) of each partition this broker leads (cluster mode)', labelNames: PARTITION_LABELS, registers, collect() {
      this.reset()
      if (source.cluster) for (const p of led(source.cluster)) this.set({ topic: p.topic, partition: String(p.partition) }, p.replicas)
    } })
    new prom.Gauge({ name: 'ringlog_under_replicated_partitions', help: 'Partitions this broker leads whose ISR is smaller than their replica list (cluster mode)', registers, collect() {
      this.set(source.cluster ? led(source.cluster).filter((p) => p.isr < p.replicas).length : 0)
    } })
    new prom.Gauge({ name: 'ringlog_offline_partitions', help: 'Partitions without a live leader, reported by the controller (0 on other brokers; cluster mode)', registers, collect() {
      const cluster = source.cluster
      if (!cluster || cluster.controllerId() !== cluster.nodeId) return this.set(0)
      const live = new Set(cluster.brokers().map((b) => b.id))
      this.set(cluster.topics().reduce((n, t) => n + t.partitions.filter((p) => !live.has(p.leader)).length, 0))
    } })
    new prom.Gauge({ name: 'ringlog_controller_active', help: '1 on the elected controller, 0 on other brokers (cluster mode)', registers, collect() {
      const cluster = source.cluster
      this.set(cluster !== undefined && cluster.controllerId() === cluster.nodeId ? 1 : 0)
    } })
  }

  private registerGroupMetrics(registers: Registry[]): void {
    const prom = promClient()
    const source = this.source
    new prom.Gauge({ name: 'ringlog_consumer_group_lag', help: 'High watermark minus the committed offset, per group and partition (committed partitions only)', labelNames: ['group', 'topic', 'partition'], registers, async collect() {
      this.reset()
      const groups = source.groups
      if (!groups) return
      for (const { groupId } of await groups.listGroups()) {
        const committed = await groups.fetchOffsets(groupId, null)
        for (const c of committed.partitions) {
          const o = source.engine.offsets(c.topic, c.partition)
          if (!o || c.offset < 0) continue
          this.set({ group: groupId, topic: c.topic, partition: String(c.partition) }, Math.max(0, o.highWatermark - c.offset))
        }
      }
    } })
  }
}

/**
 * The workers keep group-commit latency as an HDR histogram and report quantiles, not
 * buckets, so it is exposed as a Prometheus summary (quantiles and count, no sum).
 */
function fdatasyncSummary(stats: () => Promise<EngineStats | null>): ReturnType<typeof scrapedMetric> {
  const name = 'ringlog_fdatasync_duration_seconds'
  const help = 'Group-commit fdatasync time per partition (what an acks=-1 produce waits for under flush always), since the partition opened'
  return scrapedMetric(name, help, 'summary', async () => {
    const s = await stats()
    const values: { labels: Record<string, string>; value: number; metricName?: string }[] = []
    for (const p of s?.perPartition ?? []) {
      const base = { topic: p.topic, partition: String(p.partition) }
      const sync = p.fdatasync
      if (sync.count > 0) for (const [quantile, field] of SYNC_QUANTILES) values.push({ labels: { ...base, quantile }, value: sync[field] / 1000 })
      values.push({ labels: base, value: sync.count, metricName: `${name}_count` })
    }
    return values
  })
}
