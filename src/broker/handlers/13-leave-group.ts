/**
 * LeaveGroup v0-5: members leave at once instead of waiting for their session to expire;
 * the group rebalances without them.
 *
 * - v0-2: one member (memberId); the response's only error code is that member's outcome
 *   (or the group-level error), as Kafka answers these versions.
 * - v3+: a batch of members, each by member id or (static members) by group instance id,
 *   each with its own error code; the top-level code is for group-level errors.
 * - v5: each member's reason for leaving (KIP-800) is logged at info with the group, member
 *   and outcome, as Kafka logs it.
 * - Errors: INVALID_GROUP_ID, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, COORDINATOR_NOT_AVAILABLE.
 *
 * Authorization: READ on the group, else GROUP_AUTHORIZATION_FAILED.
 *
 * Left out: throttling (0).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { LeaveGroupRequest, LeaveGroupResponse } from '../../protocol/messages/leave-group.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/leave-group.js'
import type { LeaveGroupResult } from '../../groups/group-coordinator.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 13
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const BATCHED_VERSION = 3

export async function handle(request: LeaveGroupRequest, ctx: RequestContext): Promise<HandlerReply<LeaveGroupResponse>> {
  const groups = ctx.broker.groups
  if (!ctx.access.group(request.groupId)) return { kind: 'message', message: { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, members: [] } }
  const batched = ctx.version >= BATCHED_VERSION
  const members = batched
    ? request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId }))
    : [{ memberId: request.memberId, groupInstanceId: null }]
  const result = await groups.leaveGroup({ groupId: request.groupId, members })
  if (batched) logReasons(request, result, ctx)
  if (!batched) {
    const errorCode = result.errorCode !== ErrorCode.NONE ? result.errorCode : (result.members[0]?.errorCode ?? ErrorCode.NONE)
    return { kind: 'message', message: { throttleTimeMs: 0, errorCode, members: [] } }
  }
  return {
    kind: 'message',
    message: {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      members: result.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: m.errorCode })),
    },
  }
}

function logReasons(request: LeaveGroupRequest, result: LeaveGroupResult, ctx: RequestContext): void {
  request.members.forEach((m, i) => {
    if (!m.reason) return
    const errorCode = result.errorCode !== ErrorCode.NONE ? result.errorCode : (result.members[i]?.errorCode ?? ErrorCode.NONE)
    const who = m.memberId || `instance ${m.groupInstanceId ?? ''}`
    ctx.log.info(`group ${request.groupId}: member ${who} leaves (client reason: ${m.reason})`, {
      groupId: request.groupId, memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: ctx.header.clientId ?? '', reason: m.reason, errorCode,
    })
  })
}
