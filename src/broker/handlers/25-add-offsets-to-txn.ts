/**
 * AddOffsetsToTxn v0-4 (v4 only allows TRANSACTION_ABORTABLE, KIP-890, never answered here): the open transaction will commit offsets of this consumer group
 * (TxnOffsetCommit follows, sent to the group's coordinator). Answered by the transaction
 * coordinator (src/transactions/transaction-coordinator.ts): NONE, CONCURRENT_TRANSACTIONS,
 * PRODUCER_FENCED (v2+; INVALID_PRODUCER_EPOCH before), INVALID_PRODUCER_ID_MAPPING,
 * NOT_COORDINATOR; an empty group id is INVALID_GROUP_ID.
 *
 * Authorization: WRITE on the transactional id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED), READ
 * on the group (else GROUP_AUTHORIZATION_FAILED).
 *
 * Left out: throttling (0).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { AddOffsetsToTxnRequest, AddOffsetsToTxnResponse } from '../../protocol/messages/add-offsets-to-txn.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/add-offsets-to-txn.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 25
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const FIRST_FENCED_VERSION = 2

export async function handle(request: AddOffsetsToTxnRequest, ctx: RequestContext): Promise<HandlerReply<AddOffsetsToTxnResponse>> {
  const errorCode = !ctx.access.transactionalId(request.transactionalId)
    ? ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    : !ctx.access.group(request.groupId)
      ? ErrorCode.GROUP_AUTHORIZATION_FAILED
      : request.groupId === ''
        ? ErrorCode.INVALID_GROUP_ID
        : await ctx.broker.transactions.addOffsets(request.transactionalId, request.producerId, request.producerEpoch, request.groupId, { version: ctx.version, firstFencedVersion: FIRST_FENCED_VERSION })
  return { kind: 'message', message: { throttleTimeMs: 0, errorCode } }
}
