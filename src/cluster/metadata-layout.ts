/**
 * The cluster's key layout in etcd, and the JSON shape of every value. This file is the only
 * place that knows key names. Everything lives under `/ringlog/<cluster>/`:
 *
 *   brokers/<id>              BrokerRegistration (every listener's endpoint), bound to the broker's lease (gone when it dies)
 *   controller                ControllerRecord, bound to the controller's lease (the election)
 *   topics/<name>             TopicRecord: topic id, replica assignment, configs
 *   partitions/<topic>/<p>    PartitionState { leader, leaderEpoch, isr, version }, CAS writes only
 *   producer-ids              ProducerIdsRecord: the next unallocated producer id (block allocator)
 *   shutdown/<id>             ShutdownRequest, bound to the requesting broker's lease
 *   preferred-replica-election PreferredElectionRequest; the controller deletes it when done
 *   security/acls             AclsRecord: every ACL binding of the cluster, CAS writes only
 *   security/scram/<user>     ScramUserRecord: a user's salted SCRAM keys (never a password), CAS writes
 *                             (the user name is URI-encoded in the key; see security-metadata.ts)
 *
 * Values are JSON, not msgpack: the metadata is small and rarely written, and an operator can
 * read and repair it with plain `etcdctl get --prefix /ringlog/` (as Kafka's state could be
 * read with zookeeper-shell). Every parser here validates what it reads, because anything
 * may have written the key.
 */

export const ROOT_PREFIX = '/ringlog/'

/** Leader id of a partition that has no live leader (Kafka's NO_LEADER). */
export const NO_LEADER = -1

/** One listener of a registered broker, as clients of that listener reach it (Kafka's EndPoint). */
export interface BrokerEndpoint {
  /** The listener's name; ringlog names a listener by its security protocol. */
  listener: string
  securityProtocol: string
  host: string
  port: number
}

export interface BrokerRegistration {
  /** The inter-broker listener's endpoint: all a registration of the release before `endpoints` holds. */
  host: string
  port: number
  /**
   * Every listener's advertised endpoint (Kafka's `endpoints`). Absent in a registration written
   * by an older release: that broker is answered at host:port on every listener, as it was then.
   */
  endpoints?: BrokerEndpoint[]
  rack?: string
  /** Wall-clock ms when this broker process started (for operators; never compared). */
  startedAt: number
  /** Counts the registrations of this process: 1, then + 1 after each lease loss. */
  incarnation: number
}

export interface ControllerRecord {
  brokerId: number
}

export interface TopicRecord {
  /** Kafka topic id: 16 random bytes, base64url as Kafka prints it. */
  topicId: string
  /** replicas[p] = the brokers holding partition p, preferred leader first. */
  replicas: number[][]
  configs: Record<string, string>
}

export interface PartitionState {
  /** Broker id of the leader, or NO_LEADER (-1) when the partition is offline. */
  leader: number
  /** + 1 on every leader change (Kafka's leader epoch, KIP-101). */
  leaderEpoch: number
  /** In-sync replicas; always contains the leader when there is one. */
  isr: number[]
  /** + 1 on every write of this state (Kafka's partition epoch / zkVersion). */
  version: number
}

export interface ProducerIdsRecord {
  /** Every producer id below this has been handed out in some block. */
  nextProducerId: number
}

export interface ShutdownRequest {
  state: 'requested' | 'done'
  requestedAt: number
  /** Partitions the controller could not move away (no other live ISR member), once done. */
  remaining?: string[]
}

/** Asks the controller to give leadership back to each partition's preferred (first) replica. */
export interface PreferredElectionRequest {
  /** The partitions to consider; null means every partition. */
  partitions: { topic: string; partition: number }[] | null
  requestedAt: number
}

/** The key of `security/acls`: every binding of the cluster (security/acl.ts's AclBinding), one list. */
export interface AclsRecord {
  bindings: unknown[]
}

/** The key of `security/scram/<user>`: per SCRAM mechanism, base64 salt, iterations, StoredKey, ServerKey. */
export interface ScramUserRecord {
  mechanisms: Record<string, unknown>
}

/** Key builder for one cluster. */
export class MetadataLayout {
  readonly prefix: string

  constructor(readonly cluster: string) {
    if (!/^[A-Za-z0-9._-]+$/.test(cluster)) throw new RangeError(`invalid cluster name ${JSON.stringify(cluster)}`)
    this.prefix = `${ROOT_PREFIX}${cluster}/`
  }

  get brokersPrefix(): string { return `${this.prefix}brokers/` }
  broker(id: number): string { return `${this.brokersPrefix}${id}` }
  get controller(): string { return `${this.prefix}controller` }
  get topicsPrefix(): string { return `${this.prefix}topics/` }
  topic(name: string): string { return `${this.topicsPrefix}${name}` }
  get partitionsPrefix(): string { return `${this.prefix}partitions/` }
  topicPartitionsPrefix(topic: string): string { return `${this.partitionsPrefix}${topic}/` }
  partition(topic: string, partition: number): string { return `${this.topicPartitionsPrefix(topic)}${partition}` }
  get producerIds(): string { return `${this.prefix}producer-ids` }
  get shutdownPrefix(): string { return `${this.prefix}shutdown/` }
  shutdown(id: number): string { return `${this.shutdownPrefix}${id}` }
  get preferredElection(): string { return `${this.prefix}preferred-replica-election` }
  get securityPrefix(): string { return `${this.prefix}security/` }
  get acls(): string { return `${this.securityPrefix}acls` }
  get scramPrefix(): string { return `${this.securityPrefix}scram/` }
  /** URI-encoded: a user name may hold '/' or any other character. */
  scramUser(user: string): string { return `${this.scramPrefix}${encodeURIComponent(user)}` }

  /** User name from a security/scram/<user> key. */
  userFromScramKey(key: string): string | undefined {
    if (!key.startsWith(this.scramPrefix)) return undefined
    try {
      return decodeURIComponent(key.slice(this.scramPrefix.length))
    } catch {
      return undefined
    }
  }

  /** Broker id from a brokers/<id> or shutdown/<id> key, undefined if the key is not one. */
  idFromKey(key: string, prefix: string): number | undefined {
    if (!key.startsWith(prefix)) return undefined
    const rest = key.slice(prefix.length)
    return /^\d+$/.test(rest) ? Number(rest) : undefined
  }

  /** Topic name from a topics/<name> key. */
  topicFromKey(key: string): string | undefined {
    return key.startsWith(this.topicsPrefix) ? key.slice(this.topicsPrefix.length) : undefined
  }

  /** `{ topic, partition }` from a partitions/<topic>/<p> key. */
  partitionFromKey(key: string): { topic: string; partition: number } | undefined {
    if (!key.startsWith(this.partitionsPrefix)) return undefined
    const rest = key.slice(this.partitionsPrefix.length)
    const slash = rest.lastIndexOf('/')
    if (slash <= 0) return undefined
    const p = rest.slice(slash + 1)
    return /^\d+$/.test(p) ? { topic: rest.slice(0, slash), partition: Number(p) } : undefined
  }
}

/** Kafka's legal topic names: [a-zA-Z0-9._-], 1..249 characters, not "." or "..". */
export function isValidTopicName(name: string): boolean {
  return name.length > 0 && name.length <= 249 && name !== '.' && name !== '..' && /^[A-Za-z0-9._-]+$/.test(name)
}

export function isBrokerId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

/** A value read from etcd did not have the shape this layout defines. */
export class MalformedMetadataError extends Error {
  constructor(readonly key: string, detail: string) {
    super(`malformed metadata at ${key}: ${detail}`)
    this.name = 'MalformedMetadataError'
  }
}

function parseObject(key: string, text: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new MalformedMetadataError(key, 'not JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MalformedMetadataError(key, 'not an object')
  return value as Record<string, unknown>
}

function brokerList(key: string, value: unknown, what: string): number[] {
  if (!Array.isArray(value) || !value.every(isBrokerId)) throw new MalformedMetadataError(key, `${what} is not a list of broker ids`)
  return value as number[]
}

/** The value of `brokers/<id>`: host and port kept beside `endpoints` so an older release's readers still find the broker. */
export function encodeBrokerRegistration(registration: BrokerRegistration): string {
  const { host, port, endpoints, rack, startedAt, incarnation } = registration
  return JSON.stringify({ host, port, ...(endpoints && { endpoints }), ...(rack !== undefined && { rack }), startedAt, incarnation })
}

export function parseBrokerRegistration(key: string, text: string): BrokerRegistration {
  const o = parseObject(key, text)
  if (typeof o.host !== 'string' || !Number.isInteger(o.port) || typeof o.startedAt !== 'number' || !Number.isInteger(o.incarnation)) {
    throw new MalformedMetadataError(key, 'needs host, port, startedAt, incarnation')
  }
  if (o.rack !== undefined && typeof o.rack !== 'string') throw new MalformedMetadataError(key, 'rack is not a string')
  const registration: BrokerRegistration = { host: o.host, port: o.port as number, startedAt: o.startedAt, incarnation: o.incarnation as number }
  if (typeof o.rack === 'string') registration.rack = o.rack
  if (o.endpoints !== undefined) registration.endpoints = parseEndpoints(key, o.endpoints)
  return registration
}

function parseEndpoints(key: string, value: unknown): BrokerEndpoint[] {
  if (!Array.isArray(value)) throw new MalformedMetadataError(key, 'endpoints is not a list')
  const seen = new Set<string>()
  return value.map((e: unknown) => {
    const o = e as Partial<Record<keyof BrokerEndpoint, unknown>> | null
    if (typeof o?.listener !== 'string' || typeof o.securityProtocol !== 'string' || typeof o.host !== 'string'
      || !Number.isInteger(o.port) || (o.port as number) < 0 || (o.port as number) > 65535) {
      throw new MalformedMetadataError(key, 'endpoints entries need listener, securityProtocol, host, port')
    }
    if (seen.has(o.listener)) throw new MalformedMetadataError(key, `listener ${o.listener} is listed twice`)
    seen.add(o.listener)
    return { listener: o.listener, securityProtocol: o.securityProtocol, host: o.host, port: o.port as number }
  })
}

export function parseControllerRecord(key: string, text: string): ControllerRecord {
  const o = parseObject(key, text)
  if (!isBrokerId(o.brokerId)) throw new MalformedMetadataError(key, 'brokerId is not a broker id')
  return { brokerId: o.brokerId }
}

export function parseTopicRecord(key: string, text: string): TopicRecord {
  const o = parseObject(key, text)
  if (typeof o.topicId !== 'string' || !Array.isArray(o.replicas) || typeof o.configs !== 'object' || o.configs === null) {
    throw new MalformedMetadataError(key, 'needs topicId, replicas, configs')
  }
  const replicas = o.replicas.map((r, p) => brokerList(key, r, `replicas[${p}]`))
  const configs: Record<string, string> = {}
  for (const [name, value] of Object.entries(o.configs as Record<string, unknown>)) {
    if (typeof value !== 'string') throw new MalformedMetadataError(key, `config ${name} is not a string`)
    configs[name] = value
  }
  return { topicId: o.topicId, replicas, configs }
}

export function parsePartitionState(key: string, text: string): PartitionState {
  const o = parseObject(key, text)
  const leader = o.leader
  if (!(leader === NO_LEADER || isBrokerId(leader)) || !Number.isInteger(o.leaderEpoch) || !Number.isInteger(o.version)) {
    throw new MalformedMetadataError(key, 'needs leader, leaderEpoch, isr, version')
  }
  return { leader: leader as number, leaderEpoch: o.leaderEpoch as number, isr: brokerList(key, o.isr, 'isr'), version: o.version as number }
}

export function parseProducerIdsRecord(key: string, text: string): ProducerIdsRecord {
  const o = parseObject(key, text)
  if (!Number.isSafeInteger(o.nextProducerId) || (o.nextProducerId as number) < 0) throw new MalformedMetadataError(key, 'nextProducerId')
  return { nextProducerId: o.nextProducerId as number }
}

export function parseShutdownRequest(key: string, text: string): ShutdownRequest {
  const o = parseObject(key, text)
  if ((o.state !== 'requested' && o.state !== 'done') || typeof o.requestedAt !== 'number') {
    throw new MalformedMetadataError(key, 'needs state and requestedAt')
  }
  const request: ShutdownRequest = { state: o.state, requestedAt: o.requestedAt }
  if (o.remaining !== undefined) {
    if (!Array.isArray(o.remaining) || !o.remaining.every((r) => typeof r === 'string')) throw new MalformedMetadataError(key, 'remaining')
    request.remaining = o.remaining as string[]
  }
  return request
}

export function parsePreferredElectionRequest(key: string, text: string): PreferredElectionRequest {
  const o = parseObject(key, text)
  if (typeof o.requestedAt !== 'number') throw new MalformedMetadataError(key, 'needs requestedAt')
  if (o.partitions === null) return { partitions: null, requestedAt: o.requestedAt }
  if (!Array.isArray(o.partitions)) throw new MalformedMetadataError(key, 'partitions is neither null nor a list')
  const partitions = o.partitions.map((tp: unknown) => {
    const entry = tp as { topic?: unknown; partition?: unknown } | null
    if (typeof entry?.topic !== 'string' || !Number.isInteger(entry.partition) || (entry.partition as number) < 0) {
      throw new MalformedMetadataError(key, 'partitions entries need topic and partition')
    }
    return { topic: entry.topic, partition: entry.partition as number }
  })
  return { partitions, requestedAt: o.requestedAt }
}
