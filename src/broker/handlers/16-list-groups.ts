/**
 * ListGroups v0-5: every group this broker coordinates (all of them: it is the only broker),
 * including groups that only hold committed offsets (state Empty).
 * v4: statesFilter (state names, case-insensitive; empty = all) and each group's state.
 * v5: typesFilter (KIP-848 group types, case-insensitive; empty = all) and each group's type.
 *   Every group here is a "classic" group (ringlog has no KIP-848 consumer or share groups),
 *   so a filter that does not name "classic" lists nothing, as Kafka answers with only
 *   classic groups (an unknown type name is no error, it just matches no group).
 *
 * Authorization: DESCRIBE on the cluster lists all groups, else those the principal may DESCRIBE.
 *
 * Left out: throttling (0).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { ListGroupsRequest, ListGroupsResponse } from '../../protocol/messages/list-groups.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/list-groups.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 16
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const STATES_VERSION = 4
const TYPES_VERSION = 5
const CLASSIC_GROUP_TYPE = 'classic'

export async function handle(request: ListGroupsRequest, ctx: RequestContext): Promise<HandlerReply<ListGroupsResponse>> {
  const groups = ctx.broker.groups
  const typesFilter = ctx.version >= TYPES_VERSION ? request.typesFilter : []
  const classicWanted = typesFilter.length === 0 || typesFilter.some((t) => t.toLowerCase() === CLASSIC_GROUP_TYPE)
  const all = classicWanted ? await groups.listGroups(ctx.version >= STATES_VERSION ? request.statesFilter : null) : []
  // DESCRIBE on the cluster lists every group; otherwise only the groups the principal may describe (as Kafka).
  const listed = ctx.access.cluster() ? all : all.filter((g) => ctx.access.group(g.groupId))
  return {
    kind: 'message',
    message: {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      groups: listed.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: ctx.version >= STATES_VERSION ? g.state : '', groupType: ctx.version >= TYPES_VERSION ? CLASSIC_GROUP_TYPE : '' })),
    },
  }
}
