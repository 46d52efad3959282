/**
 * EndTxn v0-4 (v4 only allows TRANSACTION_ABORTABLE, KIP-890, never answered here): commits or aborts the producer's open transaction. The transaction coordinator
 * (src/transactions/transaction-coordinator.ts) writes PrepareCommit/PrepareAbort to
 * `__transaction_state`, a COMMIT/ABORT marker to every partition of the transaction, the
 * transaction's offsets to their groups (commit only), then CompleteCommit/CompleteAbort; the
 * answer is sent only after all of that. A retried EndTxn of a completed transaction is NONE;
 * the other result is INVALID_TXN_STATE; a producer whose epoch was bumped (a newer producer,
 * or the transaction timed out) gets PRODUCER_FENCED (v2+; INVALID_PRODUCER_EPOCH before).
 *
 * Authorization: WRITE on the transactional id, else TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
 *
 * Left out: throttling (0).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { EndTxnRequest, EndTxnResponse } from '../../protocol/messages/end-txn.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/end-txn.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 26
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const FIRST_FENCED_VERSION = 2

export async function handle(request: EndTxnRequest, ctx: RequestContext): Promise<HandlerReply<EndTxnResponse>> {
  if (!ctx.access.transactionalId(request.transactionalId)) return { kind: 'message', message: { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED } }
  const errorCode = await ctx.broker.transactions.endTxn(request.transactionalId, request.producerId, request.producerEpoch, request.committed, { version: ctx.version, firstFencedVersion: FIRST_FENCED_VERSION })
  return { kind: 'message', message: { throttleTimeMs: 0, errorCode } }
}
