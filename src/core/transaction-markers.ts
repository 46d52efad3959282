/**
 * How the transaction coordinator writes a COMMIT/ABORT marker on this node: a single node
 * appends it to the partition (acknowledged under the flush policy); in a cluster this broker
 * must lead the partition, and the marker counts once the ISR has it (acks=all), like a
 * transactional Produce. Markers to partitions led by other brokers (Kafka's WriteTxnMarkers)
 * are not sent: the completion fails with NOT_LEADER_OR_FOLLOWER and is retried.
 */
import type { LogEngine, TxnMarkerRequest } from '../engine/log-engine.js'
import { RinglogError, UnknownTopicOrPartitionError } from '../errors.js'
import { ErrorCode } from '../protocol/error-codes.js'
import type { ClusterView } from './cluster-view.js'
import { OFFSETS_COMMIT_TIMEOUT_MS } from './offsets-topic-io.js'
import type { TopicRegistry } from './topic-registry.js'

export interface MarkerHost {
  readonly engine: LogEngine
  readonly topics: TopicRegistry
  readonly cluster: ClusterView | undefined
}

export async function writeTxnMarker(host: MarkerHost, topic: string, partition: number, marker: TxnMarkerRequest): Promise<void> {
  const { cluster, engine } = host
  const exists = cluster ? (cluster.topic(topic)?.partitions.length ?? 0) > partition : (host.topics.get(topic)?.partitions ?? 0) > partition
  if (!exists) throw new UnknownTopicOrPartitionError(`${topic}-${partition} no longer exists`)
  if (!cluster) {
    await engine.writeTxnMarker(topic, partition, marker)
    return
  }
  const leader = cluster.checkLeader(topic, partition, -1)
  if (leader !== ErrorCode.NONE) throw new RinglogError(leader, `this broker does not lead ${topic}-${partition}: its marker waits`)
  const offset = await engine.writeTxnMarker(topic, partition, marker)
  cluster.onLeaderAppend(topic, partition)
  const code = await cluster.awaitReplication(topic, partition, offset, OFFSETS_COMMIT_TIMEOUT_MS)
  if (code !== ErrorCode.NONE) throw new RinglogError(code, `${topic}-${partition}: marker not replicated to the ISR (${code})`)
}
