/**
 * What the wire handlers see of cluster mode (NodeContext.cluster): the metadata cache and the
 * leader-side checks. Only types here, so broker/ can use it without loading cluster/ (which
 * core/cluster-node.ts implements, loaded by a dynamic import when `etcd` is configured).
 */

import type { AppendWait } from '../cluster/append-waiters.js'
import type { InterBrokerConnector } from '../kafka-client/inter-broker-connection.js'

/** One listener of a live broker, at the address its clients are told (metadata-layout.ts's BrokerEndpoint). */
export interface ListenerEndpoint {
  /** The listener's name; ringlog names a listener by its security protocol. */
  listener: string
  securityProtocol: string
  host: string
  port: number
}

export interface ClusterBrokerView {
  id: number
  /**
   * Where this node's inter-broker connections reach the broker: its endpoint on this node's
   * inter-broker listener (else, for a broker without that listener or registered by an older
   * release, the one address it registered).
   */
  host: string
  port: number
  /** Every listener's endpoint; null for a broker registered by an older release (one address for every listener). */
  endpoints: readonly ListenerEndpoint[] | null
}

export interface ClusterPartitionView {
  partition: number
  leader: number
  leaderEpoch: number
  replicas: number[]
  isr: number[]
}

export interface ClusterTopicView {
  name: string
  /** The cluster's topic id as a UUID string (the same on every broker). */
  topicId: string
  configs: Record<string, string>
  partitions: ClusterPartitionView[]
}

/** What a broker's log says about cluster changes it takes part in (BrokerServer logs them). */
export type ClusterEvent =
  /** This broker became the partition's leader or a follower of `leader` (Kafka's "becomes leader/follower"). */
  | { kind: 'leaderChange'; topic: string; partition: number; leader: number; leaderEpoch: number; role: 'leader' | 'follower'; isr: number[] }
  /** As the partition's leader, this broker wrote a new ISR to etcd: a follower fell behind (shrink) or caught up (expand). */
  | { kind: 'isrChange'; topic: string; partition: number; leaderEpoch: number; from: number[]; to: number[] }

/** One partition of a parked follower fetch (declared with the waiters that hold them). */
export type { AppendWait }

export interface ClusterView {
  readonly nodeId: number
  /** How this broker connects to the others (its inter-broker listener's protocol, TLS, SASL login). */
  readonly interBroker: InterBrokerConnector
  /** Every live broker, by id. */
  brokers(): ClusterBrokerView[]
  /** The elected controller's broker id, -1 while none is known. */
  controllerId(): number
  topics(): ClusterTopicView[]
  topic(name: string): ClusterTopicView | undefined
  /**
   * NONE when this broker leads the partition and `currentLeaderEpoch` (-1: not given) matches;
   * else NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH or UNKNOWN_TOPIC_OR_PARTITION.
   */
  checkLeader(topic: string, partition: number, currentLeaderEpoch: number): number
  /** acks=all before the append: NOT_ENOUGH_REPLICAS when the ISR is below min.insync.replicas. */
  checkMinInsync(topic: string, partition: number): number
  /** A follower's Fetch: records its log end offset (may move the HW and the ISR); an error code if refused. */
  onFollowerFetch(topic: string, partition: number, replicaId: number, fetchOffset: number, currentLeaderEpoch: number): number
  /** After a leader append: recompute the HW (an ISR of one) and wake parked follower fetches. */
  onLeaderAppend(topic: string, partition: number): void
  /** A parked follower fetch: resolves when the leader's log end passes any wait's `offset`, on abort, or after `timeoutMs`. */
  waitForAnyAppend(waits: readonly AppendWait[], timeoutMs: number, signal?: AbortSignal): Promise<void>
  /** acks=all after the local append: resolves to an error code once the HW passes `lastOffset` (NONE) or it cannot. */
  awaitReplication(topic: string, partition: number, lastOffset: number, timeoutMs: number): Promise<number>
  createTopic(name: string, partitions: number, replicationFactor: number, configs: Record<string, string>): Promise<{ topicId: string; partitions: number; replicationFactor: number }>
  deleteTopic(name: string): Promise<void>
  /**
   * CreatePartitions through etcd: raises the topic to `count` partitions with the given
   * replicas per new partition (null: assigned over the live brokers); resolves once this
   * broker's registry shows the new count. validateOnly checks and writes nothing.
   */
  createPartitions(name: string, count: number, assignments: number[][] | null, validateOnly: boolean): Promise<void>
  /**
   * AlterConfigs through etcd: `merge(current overrides)` is the new set (validated here), written by
   * compare-and-swap; resolves once this broker applied it. validateOnly checks and writes nothing.
   */
  alterTopicConfigs(name: string, merge: (current: Readonly<Record<string, string>>) => Record<string, string>, validateOnly: boolean): Promise<void>
  /** InitProducerId: an id no broker of the cluster has handed out (blocks reserved in etcd). */
  allocateProducerId(): Promise<number>
  /** Once the server is bound: registers this broker in etcd with every listener's endpoint (the real ports; a no-op once registered). */
  registerListeners?(endpoints: readonly ListenerEndpoint[]): Promise<void>
  /** Calls `listener` with each later leader or ISR change this broker makes or takes part in. */
  onEvent?(listener: (event: ClusterEvent) => void): void
  /**
   * Kafka's controlled shutdown, run while the broker still serves: the controller moves this
   * broker's leaderships to other ISR members, then this broker stops replicating. Idempotent;
   * close() runs it too.
   */
  controlledShutdown?(): Promise<void>
  close(): Promise<void>
}
