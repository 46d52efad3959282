/**
 * What each API needs from the authorizer, in one table: the operation it asks for on each
 * kind of resource it touches (Kafka's KafkaApis checks), and the per-request view handlers
 * use (`ctx.access`). A handler only says which resource it is about to touch; the operation
 * comes from this table, so the table is the whole policy.
 *
 * Denials are answered per resource with TOPIC_AUTHORIZATION_FAILED (29),
 * GROUP_AUTHORIZATION_FAILED (30), CLUSTER_AUTHORIZATION_FAILED (31) or
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53). A topic the principal may not DESCRIBE is
 * answered with 29 whether it exists or not, and is left out of "all topics" answers.
 * With the authorizer off every check passes (and the embedded API never asks: it is trusted).
 */
import { AclOperation, CLUSTER_RESOURCE_NAME, ResourceType } from '../security/acl.js'
import type { Authorizer } from '../security/authorizer.js'
import { authorizedOperations } from '../security/authorized-operations.js'

const { READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE, CLUSTER_ACTION } = AclOperation

export interface ApiRequirement {
  /** The operation asked of each topic the request names. */
  topic?: number
  /** ... of the group it names. */
  group?: number
  /** ... of the cluster (for the whole request, or for its broker resources). */
  cluster?: number
  /** ... of the transactional id it names. */
  transactionalId?: number
  /** A topic may be created: CREATE on the cluster or on the topic. */
  createsTopics?: boolean
}

/** Every implemented API by key. ApiVersions (18), SaslHandshake (17) and SaslAuthenticate (36) need nothing. */
export const API_AUTHORIZATION: ReadonlyMap<number, ApiRequirement> = new Map<number, ApiRequirement>([
  [0, { topic: WRITE }], // Produce
  [1, { topic: READ, cluster: CLUSTER_ACTION }], // Fetch: READ on the topic; a replica fetch (replica_id >= 0) CLUSTER_ACTION on the cluster instead, as in Kafka
  [2, { topic: DESCRIBE }], // ListOffsets
  [3, { topic: DESCRIBE, createsTopics: true }], // Metadata: unauthorized topics filtered; auto-create needs CREATE
  [8, { group: READ, topic: READ }], // OffsetCommit
  [9, { group: DESCRIBE, topic: DESCRIBE }], // OffsetFetch
  [10, { group: DESCRIBE, transactionalId: DESCRIBE }], // FindCoordinator
  [11, { group: READ }], // JoinGroup
  [12, { group: READ }], // Heartbeat
  [13, { group: READ }], // LeaveGroup
  [14, { group: READ }], // SyncGroup
  [15, { group: DESCRIBE }], // DescribeGroups
  [16, { cluster: DESCRIBE, group: DESCRIBE }], // ListGroups: DESCRIBE on the cluster lists all, else the groups it may describe
  [17, {}], // SaslHandshake
  [18, {}], // ApiVersions
  [19, { createsTopics: true }], // CreateTopics
  [20, { topic: DELETE }], // DeleteTopics
  [21, { topic: DELETE }], // DeleteRecords
  [22, { cluster: IDEMPOTENT_WRITE, topic: WRITE, transactionalId: WRITE }], // InitProducerId: IDEMPOTENT_WRITE on the cluster or WRITE on any topic
  [23, { topic: DESCRIBE, cluster: CLUSTER_ACTION }], // OffsetForLeaderEpoch: CLUSTER_ACTION on the cluster (followers) or DESCRIBE on the topic
  [24, { transactionalId: WRITE, topic: WRITE, cluster: CLUSTER_ACTION }], // AddPartitionsToTxn (v4+ comes from brokers: CLUSTER_ACTION instead)
  [25, { transactionalId: WRITE, group: READ }], // AddOffsetsToTxn
  [26, { transactionalId: WRITE }], // EndTxn
  [27, { cluster: CLUSTER_ACTION }], // WriteTxnMarkers (inter-broker)
  [28, { transactionalId: WRITE, group: READ, topic: READ }], // TxnOffsetCommit
  [29, { cluster: DESCRIBE }], // DescribeAcls
  [30, { cluster: ALTER }], // CreateAcls
  [31, { cluster: ALTER }], // DeleteAcls
  [32, { topic: DESCRIBE_CONFIGS, cluster: DESCRIBE_CONFIGS }], // DescribeConfigs (broker resources check the cluster)
  [33, { topic: ALTER_CONFIGS, cluster: ALTER_CONFIGS }], // AlterConfigs
  [36, {}], // SaslAuthenticate
  [37, { topic: ALTER }], // CreatePartitions
  [42, { group: DELETE }], // DeleteGroups
  [44, { topic: ALTER_CONFIGS, cluster: ALTER_CONFIGS }], // IncrementalAlterConfigs
  [50, { cluster: DESCRIBE }], // DescribeUserScramCredentials
  [51, { cluster: ALTER }], // AlterUserScramCredentials
  [60, {}], // DescribeCluster: Kafka checks nothing (cluster DESCRIBE only feeds authorized operations)
])

/** What one request may do; handlers ask before touching each resource. */
export interface RequestAccess {
  /** False when the authorizer is off (every check passes). */
  readonly enforced: boolean
  topic(name: string): boolean
  group(name: string): boolean
  cluster(): boolean
  transactionalId(id: string): boolean
  /** CREATE on the cluster or on this topic (CreateTopics, Metadata auto-creation). */
  createTopic(name: string): boolean
  /** The API's topic operation on at least one topic (InitProducerId without IDEMPOTENT_WRITE). */
  anyTopic(): boolean
  /** Kafka's authorized-operations bit set of this resource for the request's principal (every supported operation when unchecked). */
  operationsOn(resourceType: number, name: string): number
  /** The cluster's bit set, or 0 without DESCRIBE on the cluster (Kafka's rule for Metadata and DescribeCluster). */
  clusterOperations(): number
}

export const UNCHECKED_ACCESS: RequestAccess = {
  enforced: false,
  topic: () => true,
  group: () => true,
  cluster: () => true,
  transactionalId: () => true,
  createTopic: () => true,
  anyTopic: () => true,
  operationsOn: (resourceType) => authorizedOperations(resourceType, () => true),
  clusterOperations: () => authorizedOperations(ResourceType.CLUSTER, () => true),
}

class CheckedAccess implements RequestAccess {
  readonly enforced = true
  private clusterCreate: boolean | undefined

  constructor(private readonly authorizer: Authorizer, private readonly principal: string, private readonly host: string, private readonly need: ApiRequirement) {}

  private check(operation: number | undefined, type: number, name: string): boolean {
    // An API the table gives no operation for this resource never reaches it: refuse rather than guess.
    if (operation === undefined) return false
    return this.authorizer.authorize(this.principal, this.host, operation, type, name)
  }

  topic(name: string): boolean {
    return this.check(this.need.topic, ResourceType.TOPIC, name)
  }

  group(name: string): boolean {
    return this.check(this.need.group, ResourceType.GROUP, name)
  }

  cluster(): boolean {
    return this.check(this.need.cluster, ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME)
  }

  transactionalId(id: string): boolean {
    return this.check(this.need.transactionalId, ResourceType.TRANSACTIONAL_ID, id)
  }

  createTopic(name: string): boolean {
    if (!this.need.createsTopics) return false
    this.clusterCreate ??= this.authorizer.authorize(this.principal, this.host, CREATE, ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME)
    return this.clusterCreate || this.authorizer.authorize(this.principal, this.host, CREATE, ResourceType.TOPIC, name)
  }

  anyTopic(): boolean {
    return this.need.topic !== undefined && this.authorizer.authorizeAny(this.principal, this.host, this.need.topic, ResourceType.TOPIC)
  }

  operationsOn(resourceType: number, name: string): number {
    return authorizedOperations(resourceType, (operation) => this.authorizer.authorize(this.principal, this.host, operation, resourceType, name))
  }

  clusterOperations(): number {
    if (!this.authorizer.authorize(this.principal, this.host, DESCRIBE, ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME)) return 0
    return this.operationsOn(ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME)
  }
}

/** Seconds between two log lines about the same refused inter-broker principal (a follower retries every 200 ms). */
const REFUSAL_LOG_INTERVAL_MS = 30_000
const lastRefusalLogged = new Map<string, number>()

/**
 * A broker-to-broker request (a replica fetch) refused for lack of CLUSTER_ACTION would only show
 * as a follower that never catches up: say it once in a while, with what to change.
 */
export function logRefusedInterBroker(log: { warn(message: string): void }, principal: string, what: string, nowMs = Date.now()): void {
  const key = `${principal} ${what}`
  if ((lastRefusalLogged.get(key) ?? -Infinity) > nowMs - REFUSAL_LOG_INTERVAL_MS) return
  if (lastRefusalLogged.size > 1_000) lastRefusalLogged.clear()
  lastRefusalLogged.set(key, nowMs)
  log.warn(`${what} refused for ${principal}: it needs CLUSTER_ACTION on the cluster (name the brokers' principal in --super-users or grant it with ringlog acls add --cluster --operation ClusterAction)`)
}

/** The access of one request: unchecked without an authorizer, else checked for this principal, host and API. */
export function requestAccess(authorizer: Authorizer | undefined, principal: string, host: string, apiKey: number): RequestAccess {
  if (!authorizer) return UNCHECKED_ACCESS
  return new CheckedAccess(authorizer, principal, host.replace(/^::ffff:/, ''), API_AUTHORIZATION.get(apiKey) ?? {})
}

