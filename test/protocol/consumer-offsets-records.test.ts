import { Buffer } from 'node:buffer'
import { describe, expect, it } from 'vitest'
import {
  decodeConsumerOffsetsKey, decodeGroupMetadataValue, decodeOffsetCommitValue, encodeGroupMetadataKey,
  encodeGroupMetadataValue, encodeOffsetCommitKey, encodeOffsetCommitValue, javaStringHashCode, partitionForGroup,
} from '../../src/protocol/consumer-offsets-records.js'

describe('__consumer_offsets record formats', () => {
  it('Java String.hashCode and Kafka partitionFor', () => {
    // Values Java prints for "".hashCode(), "abc".hashCode(), "polygenelubricants".hashCode() (Integer.MIN_VALUE).
    expect(javaStringHashCode('')).toBe(0)
    expect(javaStringHashCode('abc')).toBe(96354)
    expect(javaStringHashCode('polygenelubricants')).toBe(-2147483648)
    expect(partitionForGroup('polygenelubricants', 50)).toBe(0)
    expect(partitionForGroup('abc', 50)).toBe(96354 % 50)
    // A negative hash: abs before the modulo, as Kafka's Utils.abs.
    const negative = 'zzzzzzzzzz'
    expect(javaStringHashCode(negative)).toBeLessThan(0)
    expect(partitionForGroup(negative, 50)).toBe(Math.abs(javaStringHashCode(negative)) % 50)
  })

  it('OffsetCommitKey v1 bytes are Kafka\'s layout and decode back', () => {
    const key = encodeOffsetCommitKey('g', 't', 7)
    expect(key.toString('hex')).toBe('0001' + '0001' + '67' + '0001' + '74' + '00000007')
    expect(decodeConsumerOffsetsKey(key)).toEqual({ kind: 'offset', group: 'g', topic: 't', partition: 7 })
    expect(decodeConsumerOffsetsKey(encodeGroupMetadataKey('grp'))).toEqual({ kind: 'group', group: 'grp' })
    expect(encodeGroupMetadataKey('g').toString('hex')).toBe('0002000167')
  })

  it('OffsetCommitValue v3 round trip, and v1 (with expireTimestamp) decodes', () => {
    const value = { offset: 1234567890123, leaderEpoch: 5, metadata: 'meta', commitTimestamp: 1_700_000_000_000 }
    const encoded = encodeOffsetCommitValue(value)
    expect(encoded.readInt16BE(0)).toBe(3)
    expect(decodeOffsetCommitValue(encoded)).toEqual(value)
    const v1 = Buffer.alloc(2 + 8 + 2 + 1 + 8 + 8)
    v1.writeInt16BE(1, 0); v1.writeBigInt64BE(42n, 2); v1.writeInt16BE(1, 10); v1.write('m', 12); v1.writeBigInt64BE(99n, 13); v1.writeBigInt64BE(100n, 21)
    expect(decodeOffsetCommitValue(v1)).toEqual({ offset: 42, leaderEpoch: -1, metadata: 'm', commitTimestamp: 99 })
  })

  it('GroupMetadataValue v3 round trip', () => {
    const value = {
      protocolType: 'consumer', generation: 4, protocol: 'range', leader: 'm-1', currentStateTimestamp: 1_700_000_000_001,
      members: [
        { memberId: 'm-1', groupInstanceId: null, clientId: 'c', clientHost: '/127.0.0.1', rebalanceTimeoutMs: 60000, sessionTimeoutMs: 30000, subscription: Buffer.from([1, 2]), assignment: Buffer.from([3]) },
        { memberId: 'm-2', groupInstanceId: 'static', clientId: 'c2', clientHost: '/127.0.0.1', rebalanceTimeoutMs: 1, sessionTimeoutMs: 2, subscription: Buffer.alloc(0), assignment: Buffer.alloc(0) },
      ],
    }
    expect(decodeGroupMetadataValue(encodeGroupMetadataValue(value))).toEqual(value)
  })

  it('refuses unknown versions and truncated values', () => {
    expect(() => decodeConsumerOffsetsKey(Buffer.from('0009', 'hex'))).toThrow(/version 9/)
    expect(() => decodeOffsetCommitValue(encodeOffsetCommitValue({ offset: 1, leaderEpoch: 1, metadata: '', commitTimestamp: 1 }).subarray(0, 9))).toThrow()
  })
})
