/**
 * ListGroups v0-4: every group this broker coordinates (all of them: it is the only broker),
 * including groups that only hold committed offsets (state Empty).
 * v4: statesFilter (state names, case-insensitive; empty = all) and each group's state.
 *
 * Authorization: DESCRIBE on the cluster lists all groups, else those the principal may DESCRIBE.
 *
 * Left out: throttling (0), v5 types filter.
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { ListGroupsRequest, ListGroupsResponse } from '../../protocol/messages/list-groups.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/list-groups.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 16
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const STATES_VERSION = 4

export async function handle(request: ListGroupsRequest, ctx: RequestContext): Promise<HandlerReply<ListGroupsResponse>> {
  const groups = ctx.broker.groups
  const all = await groups.listGroups(ctx.version >= STATES_VERSION ? request.statesFilter : null)
  // DESCRIBE on the cluster lists every group; otherwise only the groups the principal may describe (as Kafka).
  const listed = ctx.access.cluster() ? all : all.filter((g) => ctx.access.group(g.groupId))
  return {
    kind: 'message',
    message: {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      groups: listed.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: ctx.version >= STATES_VERSION ? g.state : '' })),
    },
  }
}
