/**
 * SyncGroup v0-5, the second half of the classic rebalance: the leader sends every member's
 * assignment, everyone gets their own back (src/groups/group-coordinator.ts does the work).
 *
 * - Parked while the group waits for the leader's assignment (CompletingRebalance).
 * - Assignments are opaque bytes, stored and returned as sent (for consumers they are
 *   ConsumerProtocol assignments; this broker does not need to read them).
 * - v3+: group instance ids. v5: protocolType/protocolName are checked against the group's
 *   (INCONSISTENT_GROUP_PROTOCOL) and echoed back.
 * - Errors: INVALID_GROUP_ID (empty id), UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
 *   REBALANCE_IN_PROGRESS, FENCED_INSTANCE_ID, COORDINATOR_NOT_AVAILABLE.
 *
 * Authorization: READ on the group, else GROUP_AUTHORIZATION_FAILED.
 *
 * Left out: throttling (0).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { SyncGroupRequest, SyncGroupResponse } from '../../protocol/messages/sync-group.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/sync-group.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 14
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const PROTOCOL_FIELDS_VERSION = 5

export async function handle(request: SyncGroupRequest, ctx: RequestContext): Promise<HandlerReply<SyncGroupResponse>> {
  const groups = ctx.broker.groups
  const withProtocol = ctx.version >= PROTOCOL_FIELDS_VERSION
  if (!ctx.access.group(request.groupId)) {
    return { kind: 'message', message: { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) } }
  }
  const result = await groups.syncGroup({
    groupId: request.groupId,
    memberId: request.memberId,
    generationId: request.generationId,
    groupInstanceId: request.groupInstanceId,
    protocolType: withProtocol ? request.protocolType : null,
    protocolName: withProtocol ? request.protocolName : null,
    assignments: request.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
  })
  return {
    kind: 'message',
    message: {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      protocolType: withProtocol ? result.protocolType : null,
      protocolName: withProtocol ? result.protocolName : null,
      assignment: result.assignment,
    },
  }
}
