/**
 * Heartbeat v0-4: keeps a member's session alive and tells it when to rejoin
 * (REBALANCE_IN_PROGRESS). v3+ carries the group instance id (static membership).
 * Errors: INVALID_GROUP_ID, UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID,
 * COORDINATOR_NOT_AVAILABLE. A heartbeat between JoinGroup and SyncGroup is a normal one.
 *
 * Authorization: READ on the group, else GROUP_AUTHORIZATION_FAILED.
 *
 * Left out: throttling (0).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { HeartbeatRequest, HeartbeatResponse } from '../../protocol/messages/heartbeat.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/heartbeat.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 12
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

export async function handle(request: HeartbeatRequest, ctx: RequestContext): Promise<HandlerReply<HeartbeatResponse>> {
  if (!ctx.access.group(request.groupId)) return { kind: 'message', message: { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED } }
  const errorCode = await ctx.broker.groups.heartbeat({ groupId: request.groupId, memberId: request.memberId, generationId: request.generationId, groupInstanceId: request.groupInstanceId })
  return { kind: 'message', message: { throttleTimeMs: 0, errorCode } }
}
