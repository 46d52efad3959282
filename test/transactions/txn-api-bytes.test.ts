/**
 * Golden bytes of the transaction API versions added for Kafka 3.9 parity: InitProducerId v5,
 * AddPartitionsToTxn v4/v5 (the batched broker form with VerifyOnly, KIP-890), AddOffsetsToTxn
 * v4, EndTxn v4, TxnOffsetCommit v4. Each request is checked three ways: ringlog's encoder gives
 * the bytes written out by hand from the schema, @platformatic/kafka's own encoder (an
 * independent implementation) gives the same bytes, and ringlog's decoder reads them back.
 */
import { describe, expect, it } from 'vitest'
import { addOffsetsToTxnV4, addPartitionsToTxnV5, endTxnV4, initProducerIdV5, txnOffsetCommitV4 } from '@platformatic/kafka'
import { Reader, Writer } from '../../src/protocol/primitives.js'
import * as addOffsets from '../../src/protocol/messages/add-offsets-to-txn.js'
import * as addPartitions from '../../src/protocol/messages/add-partitions-to-txn.js'
import * as endTxn from '../../src/protocol/messages/end-txn.js'
import * as initProducerId from '../../src/protocol/messages/init-producer-id.js'
import * as txnOffsetCommit from '../../src/protocol/messages/txn-offset-commit.js'

const hex = (s: string): string => s.replace(/\s+/g, '')
const ascii = (s: string): string => Buffer.from(s, 'latin1').toString('hex')
const encoded = (write: (w: Writer) => void): string => { const w = new Writer(); write(w); return w.finish().toString('hex') }
const platformatic = (writer: { buffer: Buffer }): string => writer.buffer.toString('hex')

describe('the new transaction API versions, byte for byte', () => {
  it('serves every version the 3.8 schemas define', () => {
    expect([initProducerId.MAX_VERSION, addPartitions.MAX_VERSION, addOffsets.MAX_VERSION, endTxn.MAX_VERSION, txnOffsetCommit.MAX_VERSION]).toEqual([5, 5, 4, 4, 4])
  })

  it('InitProducerId v5 request: compact nullable id, timeout, producer id and epoch, tags', () => {
    const bytes = hex(`03 ${ascii('tx')} 0000ea60 0000000000000007 0003 00`)
    const msg = { transactionalId: 'tx', transactionTimeoutMs: 60000, producerId: 7, producerEpoch: 3 }
    expect(encoded((w) => initProducerId.encodeInitProducerIdRequest(w, 5, msg))).toBe(bytes)
    expect(platformatic(initProducerIdV5.createRequest('tx', 60000, 7n, 3))).toBe(bytes)
    expect(initProducerId.decodeInitProducerIdRequest(new Reader(Buffer.from(bytes, 'hex')), 5)).toEqual(msg)
  })

  it('AddPartitionsToTxn v5 request: a batch of transactions with VerifyOnly', () => {
    // [transactions]: 2 entries | "tx" | pid 7 | epoch 2 | verifyOnly 1 | [topics] "t" [0, 3] | tags... | "ty" ... verifyOnly 0
    const bytes = hex(`03
      03 ${ascii('tx')} 0000000000000007 0002 01 02 02 ${ascii('t')} 03 00000000 00000003 00 00
      03 ${ascii('ty')} 0000000000000008 0000 00 02 02 ${ascii('u')} 02 00000001 00 00
      00`)
    const transactions = [
      { transactionalId: 'tx', producerId: 7, producerEpoch: 2, verifyOnly: true, topics: [{ name: 't', partitions: [0, 3] }] },
      { transactionalId: 'ty', producerId: 8, producerEpoch: 0, verifyOnly: false, topics: [{ name: 'u', partitions: [1] }] },
    ]
    expect(encoded((w) => addPartitions.encodeAddPartitionsToTxnRequest(w, 5, { transactions }))).toBe(bytes)
    expect(encoded((w) => addPartitions.encodeAddPartitionsToTxnRequest(w, 4, { transactions }))).toBe(bytes)
    expect(platformatic(addPartitionsToTxnV5.createRequest(transactions.map((t) => ({ ...t, producerId: BigInt(t.producerId) }))))).toBe(bytes)
    expect(addPartitions.decodeAddPartitionsToTxnRequest(new Reader(Buffer.from(bytes, 'hex')), 5).transactions).toEqual(transactions)
  })

  it('AddPartitionsToTxn v5 response: top-level error code and results per transaction', () => {
    const bytes = hex(`00000000 0000 02 03 ${ascii('tx')} 02 02 ${ascii('t')} 03 00000000 0000 00 00000003 0078 00 00 00 00`)
    const message = {
      throttleTimeMs: 0, errorCode: 0,
      resultsByTransaction: [{ transactionalId: 'tx', topicResults: [{ name: 't', resultsByPartition: [{ partitionIndex: 0, partitionErrorCode: 0 }, { partitionIndex: 3, partitionErrorCode: 120 }] }] }],
    }
    expect(encoded((w) => addPartitions.encodeAddPartitionsToTxnResponse(w, 5, message))).toBe(bytes)
    expect(addPartitions.decodeAddPartitionsToTxnResponse(new Reader(Buffer.from(bytes, 'hex')), 5)).toEqual({ ...message, resultsByTopicV3AndBelow: [] })
  })

  it('AddPartitionsToTxn v3 keeps the flat client form', () => {
    const bytes = hex(`03 ${ascii('tx')} 0000000000000007 0002 02 02 ${ascii('t')} 02 00000000 00 00`)
    expect(encoded((w) => addPartitions.encodeAddPartitionsToTxnRequest(w, 3, {
      v3AndBelowTransactionalId: 'tx', v3AndBelowProducerId: 7, v3AndBelowProducerEpoch: 2, v3AndBelowTopics: [{ name: 't', partitions: [0] }],
    }))).toBe(bytes)
  })

  it('AddOffsetsToTxn v4 request', () => {
    const bytes = hex(`03 ${ascii('tx')} 0000000000000007 0002 02 ${ascii('g')} 00`)
    const msg = { transactionalId: 'tx', producerId: 7, producerEpoch: 2, groupId: 'g' }
    expect(encoded((w) => addOffsets.encodeAddOffsetsToTxnRequest(w, 4, msg))).toBe(bytes)
    expect(platformatic(addOffsetsToTxnV4.createRequest('tx', 7n, 2, 'g'))).toBe(bytes)
    expect(addOffsets.decodeAddOffsetsToTxnRequest(new Reader(Buffer.from(bytes, 'hex')), 4)).toEqual(msg)
  })

  it('EndTxn v4 request and response', () => {
    const bytes = hex(`03 ${ascii('tx')} 0000000000000007 0002 01 00`)
    const msg = { transactionalId: 'tx', producerId: 7, producerEpoch: 2, committed: true }
    expect(encoded((w) => endTxn.encodeEndTxnRequest(w, 4, msg))).toBe(bytes)
    expect(platformatic(endTxnV4.createRequest('tx', 7n, 2, true))).toBe(bytes)
    expect(endTxn.decodeEndTxnRequest(new Reader(Buffer.from(bytes, 'hex')), 4)).toEqual(msg)
    expect(encoded((w) => endTxn.encodeEndTxnResponse(w, 4, { throttleTimeMs: 0, errorCode: 120 }))).toBe(hex('00000000 0078 00'))
  })

  it('TxnOffsetCommit v4 request: generation, member and instance ids, offsets with leader epoch', () => {
    const bytes = hex(`03 ${ascii('tx')} 02 ${ascii('g')} 0000000000000007 0002 00000005 03 ${ascii('m1')} 00
      02 02 ${ascii('t')} 02 00000001 000000000000002a ffffffff 01 00 00 00`)
    const msg = {
      transactionalId: 'tx', groupId: 'g', producerId: 7, producerEpoch: 2, generationId: 5, memberId: 'm1', groupInstanceId: null,
      topics: [{ name: 't', partitions: [{ partitionIndex: 1, committedOffset: 42, committedLeaderEpoch: -1, committedMetadata: '' }] }],
    }
    expect(encoded((w) => txnOffsetCommit.encodeTxnOffsetCommitRequest(w, 4, msg))).toBe(bytes)
    expect(platformatic(txnOffsetCommitV4.createRequest('tx', 'g', 7n, 2, 5, 'm1', null,
      [{ name: 't', partitions: [{ partitionIndex: 1, committedOffset: 42n, committedLeaderEpoch: -1, committedMetadata: '' }] }]))).toBe(bytes)
    expect(txnOffsetCommit.decodeTxnOffsetCommitRequest(new Reader(Buffer.from(bytes, 'hex')), 4)).toEqual(msg)
  })
})
