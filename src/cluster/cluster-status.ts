/**
 * `ringlog cluster status`, read straight from etcd: the brokers (registered ones are alive;
 * a broker named in a replica assignment but not registered is listed as down), the elected
 * controller, and the partitions that are under-replicated (ISR smaller than the replica list)
 * or offline (no leader, or a leader that is not registered). Kafka's kafka-topics.sh
 * --under-replicated-partitions / --unavailable-partitions, for the whole cluster at once.
 */
import type { ClusterMetadata } from './cluster-metadata.js'
import { NO_LEADER, parseControllerRecord } from './metadata-layout.js'

export interface BrokerStatus {
  id: number
  /** host:port it registered, null for a broker that is down (its address left etcd with its lease). */
  address: string | null
  alive: boolean
  /**
   * Every listener it registered, as `PROTOCOL://host:port` (empty for a broker that is down;
   * a registration from before listeners were registered gives its one address as PLAINTEXT).
   */
  listeners: string[]
}

export interface PartitionStatus {
  topic: string
  partition: number
  leader: number
  leaderEpoch: number
  replicas: number[]
  isr: number[]
}

export interface ClusterStatus {
  brokers: BrokerStatus[]
  /** Broker id of the elected controller, -1 when none holds the election. */
  controller: number
  topics: number
  partitions: number
  underReplicated: PartitionStatus[]
  offline: PartitionStatus[]
}

export async function readClusterStatus(metadata: ClusterMetadata): Promise<ClusterStatus> {
  const [live, topics, states, controllerText] = await Promise.all([
    metadata.listBrokers(), metadata.listTopics(), metadata.listPartitions(), metadata.etcd.get(metadata.layout.controller).string(),
  ])
  const controller = controllerText === null ? -1 : parseControllerRecord(metadata.layout.controller, controllerText).brokerId
  const known = new Set(live.keys())
  const stateOf = new Map(states.map((s) => [`${s.topic}/${s.partition}`, s.state]))
  const underReplicated: PartitionStatus[] = []
  const offline: PartitionStatus[] = []
  let partitions = 0
  for (const [topic, record] of [...topics].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    record.replicas.forEach((replicas, partition) => {
      partitions++
      for (const id of replicas) known.add(id)
      const state = stateOf.get(`${topic}/${partition}`)
      const status: PartitionStatus = { topic, partition, leader: state?.leader ?? NO_LEADER, leaderEpoch: state?.leaderEpoch ?? -1, replicas, isr: state?.isr ?? [] }
      if (status.leader === NO_LEADER || !live.has(status.leader)) offline.push(status)
      else if (status.isr.length < replicas.length) underReplicated.push(status)
    })
  }
  const brokers = [...known].sort((a, b) => a - b).map((id) => {
    const b = live.get(id)
    if (b === undefined) return { id, address: null, alive: false, listeners: [] }
    const endpoints = b.endpoints ?? [{ listener: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', host: b.host, port: b.port }]
    return { id, address: `${b.host}:${b.port}`, alive: true, listeners: endpoints.map((e) => `${e.listener}://${e.host}:${e.port}`) }
  })
  return { brokers, controller, topics: topics.size, partitions, underReplicated, offline }
}

/** The status as the lines `ringlog cluster status` prints. */
export function formatClusterStatus(status: ClusterStatus): string {
  const lines = ['BROKER  ADDRESS               ALIVE  LISTENERS']
  for (const b of status.brokers) {
    lines.push(`${String(b.id).padEnd(7)} ${(b.address ?? '-').padEnd(21)} ${(b.alive ? 'yes' : 'no').padEnd(6)} ${b.listeners.join(',') || '-'}`)
  }
  lines.push(`controller: ${status.controller < 0 ? 'none' : status.controller}`)
  lines.push(`topics: ${status.topics}, partitions: ${status.partitions}`)
  const describe = (p: PartitionStatus): string => `  ${p.topic}-${p.partition} leader ${p.leader} epoch ${p.leaderEpoch} replicas [${p.replicas.join(',')}] isr [${p.isr.join(',')}]`
  lines.push(`under-replicated partitions: ${status.underReplicated.length}`, ...status.underReplicated.map(describe))
  lines.push(`offline partitions: ${status.offline.length}`, ...status.offline.map(describe))
  return `${lines.join('\n')}\n`
}
