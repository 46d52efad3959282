/**
 * DeleteGroups v0-2.
 *
 * Deletes each named group's committed offsets and the group itself. Per group:
 * NON_EMPTY_GROUP while it has members, GROUP_ID_NOT_FOUND for a group this broker does not
 * know, INVALID_GROUP_ID for "", COORDINATOR_NOT_AVAILABLE when no group coordinator runs.
 *
 * Authorization: DELETE on each group, else GROUP_AUTHORIZATION_FAILED.
 *
 * Left out: nothing of the version range; throttling is always 0.
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { DeleteGroupsRequest, DeleteGroupsResponse } from '../../protocol/messages/delete-groups.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/delete-groups.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 42
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

export async function handle(request: DeleteGroupsRequest, ctx: RequestContext): Promise<HandlerReply<DeleteGroupsResponse>> {
  const groups = ctx.broker.groups
  const results = []
  // One at a time: a name given twice answers GROUP_ID_NOT_FOUND the second time, as in Kafka.
  for (const groupId of request.groupsNames) {
    const errorCode = !ctx.access.group(groupId) ? ErrorCode.GROUP_AUTHORIZATION_FAILED : groups ? await groups.deleteGroup(groupId) : ErrorCode.COORDINATOR_NOT_AVAILABLE
    results.push({ groupId, errorCode })
  }
  return { kind: 'message', message: { throttleTimeMs: 0, results } }
}
