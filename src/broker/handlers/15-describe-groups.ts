/**
 * DescribeGroups v0-5: each group's state, protocol and members (member id, instance id v4+,
 * client id, client host, and, while the group is Stable, each member's protocol metadata
 * and assignment as opaque bytes, as Kafka reports them).
 *
 * - An unknown group is described as state "Dead" with no members and no error, as Kafka does.
 * - An empty group id: INVALID_GROUP_ID for that entry.
 * - v3+ includeAuthorizedOperations: the bit set of the group operations (READ, DELETE,
 *   DESCRIBE) the principal may perform on that group (all three with the authorizer off), for
 *   groups described without error, as Kafka; otherwise Kafka's "not requested" value (INT32_MIN).
 *
 * Authorization: DESCRIBE on each group, else GROUP_AUTHORIZATION_FAILED for it.
 *
 * Left out: throttling (0).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { DescribeGroupsRequest, DescribeGroupsResponse, DescribedGroup } from '../../protocol/messages/describe-groups.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/describe-groups.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import { ResourceType } from '../../security/acl.js'
import { AUTHORIZED_OPERATIONS_OMITTED } from '../../security/authorized-operations.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 15
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const AUTHORIZED_OPERATIONS_VERSION = 3
const NOT_REQUESTED = AUTHORIZED_OPERATIONS_OMITTED

export async function handle(request: DescribeGroupsRequest, ctx: RequestContext): Promise<HandlerReply<DescribeGroupsResponse>> {
  const groups = ctx.broker.groups
  const withOperations = ctx.version >= AUTHORIZED_OPERATIONS_VERSION && request.includeAuthorizedOperations
  const failed = (groupId: string, errorCode: number): EncodeInput<DescribedGroup> =>
    ({ errorCode, groupId, groupState: '', protocolType: '', protocolData: '', members: [], authorizedOperations: NOT_REQUESTED })
  const valid = request.groups.filter((id) => id !== '' && ctx.access.group(id))
  const described = new Map((await groups.describeGroups(valid)).map((g) => [g.groupId, g]))
  const out = request.groups.map((groupId): EncodeInput<DescribedGroup> => {
    if (!ctx.access.group(groupId)) return failed(groupId, ErrorCode.GROUP_AUTHORIZATION_FAILED)
    const g = groupId === '' ? undefined : described.get(groupId)
    if (!g) return failed(groupId, ErrorCode.INVALID_GROUP_ID)
    return {
      errorCode: g.errorCode,
      groupId: g.groupId,
      groupState: g.state,
      protocolType: g.protocolType,
      protocolData: g.protocolName,
      members: g.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        memberMetadata: m.metadata,
        memberAssignment: m.assignment,
      })),
      authorizedOperations: withOperations && g.errorCode === ErrorCode.NONE ? ctx.access.operationsOn(ResourceType.GROUP, g.groupId) : NOT_REQUESTED,
    }
  })
  return { kind: 'message', message: { throttleTimeMs: 0, groups: out } }
}
