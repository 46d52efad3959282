/**
 * OffsetFetch v0-9: a group's committed offsets, for the partitions asked or (v2+, topics
 * null) for every partition the group has committed. v8+ asks for several groups at once
 * (groups[], each with its own topics and errorCode); each is answered as v7 answers one.
 *
 * - v0 has v1's layout; in Kafka it read the offsets old consumers kept in ZooKeeper. ringlog
 *   has no ZooKeeper-stored offsets, so v0 is answered like v1: the offsets committed to the
 *   group coordinator (what a v0 OffsetCommit stores too).
 * - A partition with nothing committed answers offset -1, metadata '' and no error (Kafka's
 *   answer, also for topics that do not exist).
 * - v5+ returns the committed leader epoch (-1 when none was committed).
 * - Group-level errors (INVALID_GROUP_ID for an empty id, COORDINATOR_NOT_AVAILABLE) go in the
 *   top-level errorCode from v2 on; v0-1 have none, so they are repeated on every partition.
 * - v7 requireStable (KIP-447): a named partition whose offsets an open transaction holds
 *   pending (TxnOffsetCommit before its marker) answers UNSTABLE_OFFSET_COMMIT, retriable;
 *   without it, or before v7, the last committed offset is returned.
 *
 * - v9 memberId/memberEpoch belong to KIP-848 consumer groups; this broker has only classic
 *   groups, whose offsets Kafka returns without checking them, and so does this handler.
 *
 * Authorization: DESCRIBE on the group (GROUP_AUTHORIZATION_FAILED), DESCRIBE on each topic
 * (TOPIC_AUTHORIZATION_FAILED when named; left out of an all-topics answer).
 *
 * Left out: throttling (0).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { OffsetFetchRequest, OffsetFetchResponse, OffsetFetchResponsePartition, OffsetFetchResponseTopic } from '../../protocol/messages/offset-fetch.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/offset-fetch.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import type { FetchedOffset } from '../../groups/group-coordinator.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 9
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const TOP_LEVEL_ERROR_VERSION = 2

const BATCHED_GROUPS_VERSION = 8

export async function handle(request: OffsetFetchRequest, ctx: RequestContext): Promise<HandlerReply<OffsetFetchResponse>> {
  if (ctx.version >= BATCHED_GROUPS_VERSION) {
    const groups = await Promise.all(request.groups.map(async (g) => {
      const { errorCode, fetched } = await fetchGroup(ctx, g.groupId, g.topics, request.requireStable)
      return { groupId: g.groupId, errorCode, topics: byTopic(fetched) }
    }))
    return { kind: 'message', message: { throttleTimeMs: 0, groups } }
  }
  const { errorCode, fetched } = await fetchGroup(ctx, request.groupId, request.topics, request.requireStable)
  return {
    kind: 'message',
    message: { throttleTimeMs: 0, errorCode: ctx.version >= TOP_LEVEL_ERROR_VERSION ? errorCode : ErrorCode.NONE, topics: byTopic(fetched) },
  }
}

async function fetchGroup(
  ctx: RequestContext,
  groupId: string,
  topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null,
  requireStable: boolean,
): Promise<{ errorCode: number; fetched: FetchedOffset[] }> {
  const groups = ctx.broker.groups
  const wanted = topics === null
    ? null
    : topics.flatMap((t) => t.partitionIndexes.map((partition) => ({ topic: t.name, partition })))
  let errorCode: number = !ctx.access.group(groupId) ? ErrorCode.GROUP_AUTHORIZATION_FAILED : groupId === '' ? ErrorCode.INVALID_GROUP_ID : ErrorCode.NONE
  let fetched: FetchedOffset[] = []
  if (errorCode === ErrorCode.NONE) {
    const result = await groups.fetchOffsets(groupId, wanted, requireStable)
    errorCode = result.errorCode
    // Kafka: named topics the principal may not DESCRIBE answer TOPIC_AUTHORIZATION_FAILED; an all-topics answer leaves them out.
    fetched = result.partitions.flatMap((p) => ctx.access.topic(p.topic)
      ? [p]
      : wanted === null ? [] : [{ ...p, offset: -1, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED }])
  }
  if (errorCode !== ErrorCode.NONE) {
    // Every asked partition carries the error too: v0-1 clients only look there.
    fetched = (wanted ?? []).map(({ topic, partition }) => ({ topic, partition, offset: -1, leaderEpoch: -1, metadata: '', errorCode }))
  }
  return { errorCode, fetched }
}

function byTopic(partitions: readonly FetchedOffset[]): EncodeInput<OffsetFetchResponseTopic>[] {
  const topics = new Map<string, EncodeInput<OffsetFetchResponsePartition>[]>()
  for (const p of partitions) {
    let list = topics.get(p.topic)
    if (!list) { list = []; topics.set(p.topic, list) }
    list.push({ partitionIndex: p.partition, committedOffset: p.offset, committedLeaderEpoch: p.leaderEpoch, metadata: p.metadata, errorCode: p.errorCode })
  }
  return [...topics].map(([name, list]) => ({ name, partitions: list }))
}
