/**
 * How the transaction coordinator writes a COMMIT/ABORT marker to a partition.
 *
 * Single node: the partition is appended here (acknowledged under the flush policy).
 *
 * Cluster: the marker goes to the partition's leader, as in Kafka. When this broker leads it,
 * the marker is appended here and counts once the ISR has it (acks=all, like a transactional
 * Produce). Otherwise it is sent to the leader in a WriteTxnMarkers request (API 27, the
 * inter-broker request; the leader writes it the same way, see handlers/27-write-txn-markers.ts);
 * the markers for one broker asked in the same turn share one request.
 * A NOT_LEADER_OR_FOLLOWER answer, a leader that is not known yet or a connection that fails is
 * retried with the leader read again from the cluster metadata (which etcd watches keep current),
 * up to MARKER_RETRY_MS; the marker counts only once a leader acknowledged it, so the coordinator
 * completes the transaction only when every marker is written.
 */
import type { LogEngine, TxnMarkerRequest } from '../engine/log-engine.js'
import { RinglogError, UnknownTopicOrPartitionError } from '../errors.js'
import { ApiKey, type KafkaWireClient } from '../kafka-client/kafka-wire-client.js'
import { ErrorCode, errorCodeName } from '../protocol/error-codes.js'
import type { ClusterView } from './cluster-view.js'
import { CONSUMER_OFFSETS_TOPIC } from './internal-topics.js'
import { OFFSETS_COMMIT_TIMEOUT_MS } from './offsets-topic-io.js'
import type { TopicRegistry } from './topic-registry.js'

export interface MarkerHost {
  readonly engine: LogEngine
  readonly topics: TopicRegistry
  readonly cluster: ClusterView | undefined
  /** The group coordinator, told of each marker acknowledged in `__consumer_offsets` (it holds that producer's pending offsets). */
  readonly groups?: { completeTransaction(partition: number, producerId: number, committed: boolean): void }
}

/** WriteTxnMarkers v1 (flexible) is what ringlog brokers send each other. */
const WRITE_TXN_MARKERS_VERSION = 1
/**
 * How long one marker is retried (leader moves, a leader not yet elected, a broker restarting):
 * below the clients' 30 s request timeout, so a stuck EndTxn is answered (retriably) rather
 * than timed out; the transaction stays Prepare* and its completion is retried.
 */
const MARKER_RETRY_MS = 15_000
const RETRY_BACKOFF_MS = 100
const REQUEST_TIMEOUT_MS = 10_000

/** Answers that mean "ask again, maybe elsewhere": the leader moved, is being elected or is catching up. */
const RETRIABLE = new Set<number>([
  ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.NOT_ENOUGH_REPLICAS,
  ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND, ErrorCode.REQUEST_TIMED_OUT, ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.FENCED_LEADER_EPOCH, ErrorCode.UNKNOWN_LEADER_EPOCH,
])

function partitionExists(host: MarkerHost, topic: string, partition: number): boolean {
  const count = host.cluster ? host.cluster.topic(topic)?.partitions.length : host.topics.get(topic)?.partitions
  return partition >= 0 && partition < (count ?? 0)
}

/**
 * Writes a marker to a partition this broker holds: an error code, NONE once it is acknowledged
 * (in a cluster: this broker leads the partition and the ISR has the marker). What
 * WriteTxnMarkers answers per partition, and what the coordinator uses for its own partitions.
 */
export async function writeLocalTxnMarker(host: MarkerHost, topic: string, partition: number, marker: TxnMarkerRequest): Promise<number> {
  const { cluster, engine } = host
  if (!partitionExists(host, topic, partition)) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
  try {
    let code: number = ErrorCode.NONE
    if (!cluster) {
      await engine.writeTxnMarker(topic, partition, marker)
    } else {
      const leader = cluster.checkLeader(topic, partition, -1)
      if (leader !== ErrorCode.NONE) return leader
      const offset = await engine.writeTxnMarker(topic, partition, marker)
      cluster.onLeaderAppend(topic, partition)
      code = await cluster.awaitReplication(topic, partition, offset, OFFSETS_COMMIT_TIMEOUT_MS)
    }
    // Kafka's handleTxnCompletion: the marker, now durable, commits or drops the producer's pending offsets.
    if (code === ErrorCode.NONE && topic === CONSUMER_OFFSETS_TOPIC) host.groups?.completeTransaction(partition, marker.producerId, marker.committed)
    return code
  } catch (error) {
    return error instanceof RinglogError ? error.code : ErrorCode.UNKNOWN_SERVER_ERROR
  }
}

interface QueuedMarker {
  topic: string
  partition: number
  marker: TxnMarkerRequest
  resolve(code: number): void
  reject(error: unknown): void
}

/** The coordinator's marker writer: local partitions directly, others through their leader (WriteTxnMarkers). */
export class TxnMarkerWriter {
  /** One connection per broker id, to the address it had when connected. */
  private readonly connections = new Map<number, { address: string; client: Promise<KafkaWireClient> }>()
  /** Markers waiting for this turn's request to their leader, by broker id. */
  private readonly queued = new Map<number, QueuedMarker[]>()
  private closed = false

  constructor(private readonly host: MarkerHost) {}

  /** Resolves once the marker is acknowledged; rejects with a RinglogError (UnknownTopicOrPartitionError: the partition is gone). */
  async write(topic: string, partition: number, marker: TxnMarkerRequest): Promise<void> {
    const deadline = Date.now() + MARKER_RETRY_MS
    let last = 'no attempt'
    for (let attempt = 0; !this.closed; attempt++) {
      if (!partitionExists(this.host, topic, partition)) throw new UnknownTopicOrPartitionError(`${topic}-${partition} no longer exists`)
      const leader = this.host.cluster?.topic(topic)?.partitions[partition]?.leader ?? -1
      let code: number
      if (!this.host.cluster || leader === this.host.cluster.nodeId) {
        code = await writeLocalTxnMarker(this.host, topic, partition, marker)
      } else if (leader < 0) {
        code = ErrorCode.LEADER_NOT_AVAILABLE
      } else {
        code = await this.sendToLeader(leader, topic, partition, marker).catch((error: unknown) => {
          last = `broker ${leader}: ${error instanceof Error ? error.message : String(error)}`
          this.drop(leader)
          return ErrorCode.NETWORK_EXCEPTION
        })
      }
      if (code === ErrorCode.NONE) return
      if (code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && !partitionExists(this.host, topic, partition)) throw new UnknownTopicOrPartitionError(`${topic}-${partition} no longer exists`)
      // A single node has no other leader to wait for: the coordinator's own retry takes over.
      if (!this.host.cluster) throw new RinglogError(code, `marker for ${topic}-${partition}: ${errorCodeName(code)}`)
      if (code !== ErrorCode.NETWORK_EXCEPTION) last = `leader ${leader} answered ${errorCodeName(code)}`
      if (!RETRIABLE.has(code) && code !== ErrorCode.NETWORK_EXCEPTION && code !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
        throw new RinglogError(code, `marker for ${topic}-${partition}: ${last}`)
      }
      if (Date.now() + RETRY_BACKOFF_MS > deadline) break
      // The next attempt reads the leader again: the etcd watch has usually caught up by then.
      await new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_BACKOFF_MS * (attempt + 1), 1000)))
    }
    throw new RinglogError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `marker for ${topic}-${partition} not written within ${MARKER_RETRY_MS} ms (${last})`)
  }

  close(): void {
    this.closed = true
    for (const id of [...this.connections.keys()]) this.drop(id)
  }

  /**
   * Queues the marker for the leader; the markers queued for one broker in the same turn (a
   * transaction's partitions are written concurrently) leave in one WriteTxnMarkers request, as
   * Kafka's marker channel batches them per broker. Each resolves with its partition's answer.
   */
  private sendToLeader(leader: number, topic: string, partition: number, marker: TxnMarkerRequest): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      let queue = this.queued.get(leader)
      if (!queue) {
        const fresh: QueuedMarker[] = []
        this.queued.set(leader, queue = fresh)
        queueMicrotask(() => {
          this.queued.delete(leader)
          this.flush(leader, fresh)
        })
      }
      queue.push({ topic, partition, marker, resolve, reject })
    })
  }

  /** One request for the queued markers: one entry per marker (producer, epoch, result, coordinator epoch), its partitions by topic. */
  private flush(leader: number, queue: readonly QueuedMarker[]): void {
    const keyOf = (m: TxnMarkerRequest): string => `${m.producerId}:${m.producerEpoch}:${m.committed}:${m.coordinatorEpoch}`
    const entries = new Map<string, { marker: TxnMarkerRequest; topics: Map<string, number[]> }>()
    for (const q of queue) {
      let entry = entries.get(keyOf(q.marker))
      if (!entry) entries.set(keyOf(q.marker), entry = { marker: q.marker, topics: new Map() })
      const partitions = entry.topics.get(q.topic)
      if (partitions) partitions.push(q.partition)
      else entry.topics.set(q.topic, [q.partition])
    }
    const keys = [...entries.keys()]
    const list = [...entries.values()]
    this.connect(leader).then((client) => client.request(ApiKey.WriteTxnMarkers, WRITE_TXN_MARKERS_VERSION, {
      markers: list.map(({ marker, topics }) => ({
        producerId: marker.producerId, producerEpoch: marker.producerEpoch, transactionResult: marker.committed,
        topics: [...topics].map(([name, partitionIndexes]) => ({ name, partitionIndexes })), coordinatorEpoch: marker.coordinatorEpoch,
      })),
    }, { timeoutMs: OFFSETS_COMMIT_TIMEOUT_MS + REQUEST_TIMEOUT_MS })).then((answer) => {
      for (const q of queue) {
        // The answer lists the markers in the request's order.
        const result = answer.markers[keys.indexOf(keyOf(q.marker))]?.topics.find((t) => t.name === q.topic)?.partitions.find((p) => p.partitionIndex === q.partition)
        q.resolve(result ? result.errorCode : ErrorCode.UNKNOWN_SERVER_ERROR)
      }
    }, (error: unknown) => {
      for (const q of queue) q.reject(error)
    })
  }

  private connect(brokerId: number): Promise<KafkaWireClient> {
    const cluster = this.host.cluster
    const broker = cluster?.brokers().find((b) => b.id === brokerId)
    if (!cluster || !broker) return Promise.reject(new Error(`broker ${brokerId} is not registered`))
    const address = `${broker.host}:${broker.port}`
    const known = this.connections.get(brokerId)
    if (known && known.address === address) {
      return known.client.then((client) => {
        if (!client.closed) return client
        this.connections.delete(brokerId)
        return this.connect(brokerId)
      })
    }
    if (known) this.drop(brokerId)
    const client = cluster.interBroker.connect(address, { clientId: `ringlog-txn-markers-${cluster.nodeId}`, requestTimeoutMs: REQUEST_TIMEOUT_MS })
    client.catch(() => { if (this.connections.get(brokerId)?.client === client) this.connections.delete(brokerId) })
    this.connections.set(brokerId, { address, client })
    return client
  }

  private drop(brokerId: number): void {
    const known = this.connections.get(brokerId)
    this.connections.delete(brokerId)
    known?.client.then((c) => c.close(), () => undefined).catch(() => undefined)
  }
}
