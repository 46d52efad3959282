/**
 * OffsetCommit v0-9: stores a group's consumed positions (src/groups/group-coordinator.ts
 * validates membership, src/groups/offsets-store.ts makes them durable). The response is sent
 * only after the commit is fdatasync'd: an acknowledged commit survives a crash.
 *
 * - Commits to topics or partitions this broker does not have get UNKNOWN_TOPIC_OR_PARTITION
 *   (each such partition on its own; the rest of the request still commits).
 * - An empty group id: INVALID_GROUP_ID for every partition.
 * - Generation -1 with an empty member id is a "simple" commit (no group membership), allowed
 *   while the group has no members; otherwise UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION /
 *   REBALANCE_IN_PROGRESS / FENCED_INSTANCE_ID (v7+ instance ids) as Kafka answers them.
 * - v6+ committedLeaderEpoch is stored and returned by OffsetFetch.
 * - retentionTimeMs (v2-4) is ignored: offsets follow the broker-wide offsetsRetentionMinutes,
 *   as Kafka 2.1+ mostly does too.
 * - v0 has no generation or member id: a simple commit (generation -1, member ''), as Kafka
 *   3.x stores it. v1's per-partition commitTimestamp is not used as the commit time: the
 *   broker's clock is, so an offset never expires earlier than the client's timestamp implies
 *   relative to now (a client clock far in the past would otherwise expire it at once).
 *
 * - v9 (KIP-848) has the v8 layout. Every group here is classic, so a v9 commit takes the
 *   classic path, as Kafka's does for a classic group: generationIdOrMemberEpoch is checked as
 *   the generation and the member id must be a member of the group, so a new-protocol member
 *   id (or member epoch) gets UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION; STALE_MEMBER_EPOCH never
 *   occurs. The one v9 difference: a generation >= 0 for a group that does not exist answers
 *   GROUP_ID_NOT_FOUND (v0-8 keep ILLEGAL_GENERATION).
 *
 * Authorization: READ on the group (else GROUP_AUTHORIZATION_FAILED on every partition) and READ
 * on each topic (else TOPIC_AUTHORIZATION_FAILED on its partitions).
 *
 * Left out: throttling (0), transactional commits (TxnOffsetCommit).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { OffsetCommitRequest, OffsetCommitResponse, OffsetCommitResponseTopic } from '../../protocol/messages/offset-commit.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/offset-commit.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 8
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const GROUP_ID_NOT_FOUND_VERSION = 9

interface PartitionCommit {
  topic: string
  partition: number
  offset: number
  leaderEpoch: number
  metadata: string | null
}

export async function handle(request: OffsetCommitRequest, ctx: RequestContext): Promise<HandlerReply<OffsetCommitResponse>> {
  const all: PartitionCommit[] = request.topics.flatMap((t) => t.partitions.map((p) => ({
    topic: t.name,
    partition: p.partitionIndex,
    offset: p.committedOffset,
    leaderEpoch: p.committedLeaderEpoch,
    metadata: p.committedMetadata,
  })))
  const errors = new Map<PartitionCommit, number>()
  const groups = ctx.broker.groups
  const groupError = !ctx.access.group(request.groupId) ? ErrorCode.GROUP_AUTHORIZATION_FAILED : request.groupId === '' ? ErrorCode.INVALID_GROUP_ID : ErrorCode.NONE
  if (groupError !== ErrorCode.NONE) {
    for (const c of all) errors.set(c, groupError)
  } else {
    const known = all.filter((c) => {
      if (!ctx.access.topic(c.topic)) {
        errors.set(c, ErrorCode.TOPIC_AUTHORIZATION_FAILED)
        return false
      }
      const info = ctx.broker.topics.get(c.topic)
      const exists = info !== undefined && c.partition >= 0 && c.partition < info.partitions
      if (!exists) errors.set(c, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
      return exists
    })
    if (known.length > 0) {
      const results = await groups.commitOffsets({
        groupId: request.groupId,
        memberId: request.memberId,
        generationId: request.generationIdOrMemberEpoch,
        groupInstanceId: request.groupInstanceId,
        unknownGroupIsNotFound: ctx.version >= GROUP_ID_NOT_FOUND_VERSION,
        offsets: known.map((c) => ({ topic: c.topic, partition: c.partition, offset: c.offset, leaderEpoch: c.leaderEpoch, metadata: c.metadata })),
      })
      // commitOffsets answers in request order, one entry per offset.
      known.forEach((c, i) => errors.set(c, results[i]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR))
    }
  }
  const topics: EncodeInput<OffsetCommitResponseTopic>[] = []
  let at = 0
  for (const t of request.topics) {
    topics.push({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: errors.get(all[at++]) ?? ErrorCode.NONE })) })
  }
  return { kind: 'message', message: { throttleTimeMs: 0, topics } }
}
