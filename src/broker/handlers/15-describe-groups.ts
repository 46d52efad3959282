/**
 * DescribeGroups v0-5: each group's state, protocol and members (member id, instance id v4+,
 * client id, client host, and, while the group is Stable, each member's protocol metadata
 * and assignment as opaque bytes, as Kafka reports them).
 *
 * - An unknown group is described as state "Dead" with no members and no error, as Kafka does.
 * - An empty group id: INVALID_GROUP_ID for that entry.
 * - v3+ includeAuthorizedOperations: there are no ACLs, so every group operation is allowed
 *   (READ, DELETE, DESCRIBE); when not asked, Kafka's "not requested" value (INT32_MIN).
 *
 * Authorization: DESCRIBE on each group, else GROUP_AUTHORIZATION_FAILED for it.
 *
 * Left out: throttling (0), authorized operations under ACLs (the fixed set above is reported).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { DescribeGroupsRequest, DescribeGroupsResponse, DescribedGroup } from '../../protocol/messages/describe-groups.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/describe-groups.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 15
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const AUTHORIZED_OPERATIONS_VERSION = 3
const NOT_REQUESTED = -2147483648
/** Bits of Kafka's AclOperation codes READ (3), DELETE (6) and DESCRIBE (8). */
const GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8)

export async function handle(request: DescribeGroupsRequest, ctx: RequestContext): Promise<HandlerReply<DescribeGroupsResponse>> {
  const groups = ctx.broker.groups
  const operations = ctx.version >= AUTHORIZED_OPERATIONS_VERSION && request.includeAuthorizedOperations ? GROUP_OPERATIONS : NOT_REQUESTED
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
      authorizedOperations: operations,
    }
  })
  return { kind: 'message', message: { throttleTimeMs: 0, groups: out } }
}
