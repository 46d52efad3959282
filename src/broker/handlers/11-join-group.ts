/**
 * JoinGroup v0-9, the first half of the classic rebalance (src/groups/group-coordinator.ts
 * does the work; this file maps versions).
 *
 * - The response is parked until the join phase ends (a long poll bounded by the rebalance
 *   timeout; the coordinator answers every parked call when it closes).
 * - v0 has no rebalance timeout: the session timeout stands in, as in Kafka.
 * - v4+: a new member (empty member id) first gets MEMBER_ID_REQUIRED with its id and must
 *   join again with it (KIP-394). v0-3 members join at once.
 * - v5+: group instance ids (static membership, KIP-345).
 * - v7: protocolType in the response, and protocolName nullable (null on errors, '' before v7).
 * - v8: the client's reason for (re)joining (KIP-800) is logged at info with the group and
 *   member, as Kafka logs it with the rebalance it causes.
 * - v9: skipAssignment (KIP-814). A static leader rejoining a Stable group with unchanged
 *   protocols gets the members' metadata and skipAssignment=true (it keeps the assignment);
 *   before v9 it is answered as a follower (the previous leader id, no members).
 * - Protocol metadata is opaque bytes, passed to the leader as sent. Session timeouts outside
 *   [groupMinSessionTimeoutMs, groupMaxSessionTimeoutMs] get INVALID_SESSION_TIMEOUT; an empty
 *   group id INVALID_GROUP_ID; a new member whose protocol type or protocols share nothing
 *   with the group INCONSISTENT_GROUP_PROTOCOL.
 * - clientHost is "/<address>", as Kafka reports it.
 *
 * Authorization: READ on the group, else GROUP_AUTHORIZATION_FAILED.
 *
 * Left out: throttling (0), group.max.size.
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { JoinGroupRequest, JoinGroupResponse } from '../../protocol/messages/join-group.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/join-group.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 11
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const KNOWN_MEMBER_ID_VERSION = 4
const NULLABLE_PROTOCOL_NAME_VERSION = 7
const SKIP_ASSIGNMENT_VERSION = 9

export async function handle(request: JoinGroupRequest, ctx: RequestContext): Promise<HandlerReply<JoinGroupResponse>> {
  const groups = ctx.broker.groups
  const nullableName = ctx.version >= NULLABLE_PROTOCOL_NAME_VERSION
  // READ on the group (Kafka checks it before anything else).
  if (!ctx.access.group(request.groupId)) {
    return {
      kind: 'message',
      message: {
        throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, generationId: -1, protocolType: null,
        protocolName: nullableName ? null : '', leader: '', memberId: request.memberId, members: [],
      },
    }
  }
  const result = await groups.joinGroup({
    groupId: request.groupId,
    memberId: request.memberId,
    groupInstanceId: request.groupInstanceId,
    sessionTimeoutMs: request.sessionTimeoutMs,
    rebalanceTimeoutMs: ctx.version >= 1 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
    protocolType: request.protocolType,
    protocols: request.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
    clientId: ctx.header.clientId ?? '',
    clientHost: `/${ctx.connection.remoteAddress}`,
    requireKnownMemberId: ctx.version >= KNOWN_MEMBER_ID_VERSION,
    supportSkippingAssignment: ctx.version >= SKIP_ASSIGNMENT_VERSION,
  })
  if (request.reason) {
    ctx.log.info(`group ${request.groupId}: member ${result.memberId || request.memberId || '(new)'} joins (client reason: ${request.reason})`, {
      groupId: request.groupId, memberId: result.memberId, clientId: ctx.header.clientId ?? '', reason: request.reason, errorCode: result.errorCode,
    })
  }
  const message: EncodeInput<JoinGroupResponse> = {
    throttleTimeMs: 0,
    errorCode: result.errorCode,
    generationId: result.generationId,
    protocolType: result.protocolType,
    protocolName: result.protocolName ?? (nullableName ? null : ''),
    leader: result.leader,
    skipAssignment: ctx.version >= SKIP_ASSIGNMENT_VERSION && result.skipAssignment === true,
    memberId: result.memberId,
    members: result.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata })),
  }
  return { kind: 'message', message }
}
