/**
 * Reaching a group's coordinator, the broker that owns the group's state and offsets: ask any
 * broker with FindCoordinator, then talk to the node it names. On a single broker that is the
 * bootstrap connection itself; in a cluster it may be another node, and group requests sent
 * elsewhere are refused with NOT_COORDINATOR.
 */
import { errorFromCode } from '../errors.js'
import { ErrorCode, errorCodeName } from '../protocol/error-codes.js'
import { ApiKey, type KafkaWireClient } from './kafka-wire-client.js'
import type { NodeConnections } from './node-connections.js'

const GROUP_KEY_TYPE = 0
/** v4 batches keys in another shape; one key per request is all a tool needs. */
const SINGLE_KEY_MAX_VERSION = 3

export interface CoordinatorAddress { nodeId: number; host: string; port: number }

/** Answers that mean "ask again shortly": in a cluster the offsets topic is still being created or loaded. */
const RETRIABLE = new Set<number>([ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS])
const RETRY_WITHIN_MS = 10_000
const FIRST_BACKOFF_MS = 50
const MAX_BACKOFF_MS = 500

/**
 * The broker coordinating `groupId`, as `client`'s broker names it. A retriable answer is asked
 * again with a growing pause, for at most `retryWithinMs`; then its error is thrown.
 */
export async function findGroupCoordinator(client: KafkaWireClient, groupId: string, retryWithinMs = RETRY_WITHIN_MS): Promise<CoordinatorAddress> {
  const version = client.version(ApiKey.FindCoordinator, { max: SINGLE_KEY_MAX_VERSION })
  const deadline = Date.now() + retryWithinMs
  for (let backoff = FIRST_BACKOFF_MS; ; backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)) {
    const response = await client.request(ApiKey.FindCoordinator, version, { key: groupId, keyType: GROUP_KEY_TYPE })
    if (response.errorCode === ErrorCode.NONE) return { nodeId: response.nodeId, host: response.host, port: response.port }
    if (!RETRIABLE.has(response.errorCode) || Date.now() + backoff > deadline) {
      const detail = response.errorMessage ? ` (${response.errorMessage})` : ''
      throw errorFromCode(response.errorCode, `cannot find the coordinator of group "${groupId}": ${errorCodeName(response.errorCode)}${detail}`)
    }
    await new Promise((resolve) => setTimeout(resolve, backoff))
  }
}

/** The connection to the coordinator of `groupId`, out of `nodes`. */
export async function coordinatorConnection(nodes: NodeConnections, groupId: string): Promise<KafkaWireClient> {
  const { host, port } = await findGroupCoordinator(nodes.bootstrap, groupId)
  return nodes.to(host, port)
}
