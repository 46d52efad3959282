/**
 * Byte-exact checks against messages built by hand from the protocol spec (and, for the
 * ApiVersions v3 request, identical to what kcat / librdkafka 2.0.2 put on the wire).
 */
import { describe, expect, it } from 'vitest'
import { decodeApiVersionsRequest, encodeApiVersionsRequest, encodeApiVersionsResponse, decodeApiVersionsResponse } from '../../src/protocol/messages/api-versions.js'
import { decodeMetadataRequest, encodeMetadataRequest } from '../../src/protocol/messages/metadata.js'
import { decodeFetchResponse, encodeFetchResponse } from '../../src/protocol/messages/fetch.js'
import { decodeProduceRequest } from '../../src/protocol/messages/produce.js'
import { decodeRequestHeader, encodeRequestHeader, encodeResponseHeader, responseHeaderVersion } from '../../src/protocol/headers.js'
import { FrameDecoder } from '../../src/protocol/frame.js'
import { Reader, Writer, fieldNotInVersion } from '../../src/protocol/primitives.js'

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')
const ascii = (s: string) => Buffer.from(s, 'latin1').toString('hex')

describe('ApiVersions', () => {
  // size 36 | key 18 | v3 | corr 1 | clientId int16 "rdkafka" | header tags 0
  // | compact "librdkafka" (11) | compact "2.0.2" (6) | body tags 0
  const kcatFrame = hex(`00000024 0012 0003 00000001 0007 ${ascii('rdkafka')} 00 0b ${ascii('librdkafka')} 06 ${ascii('2.0.2')} 00`)

  it('decodes the v3 request librdkafka sends (header v2, non-compact client id)', () => {
    const [frame] = new FrameDecoder().push(kcatFrame)
    const r = new Reader(frame)
    expect(decodeRequestHeader(r)).toEqual({ apiKey: 18, apiVersion: 3, correlationId: 1, clientId: 'rdkafka' })
    expect(decodeApiVersionsRequest(r, 3)).toEqual({ clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' })
    expect(r.remaining).toBe(0)
  })

  it('encodes the same bytes', () => {
    const w = new Writer()
    w.int32(0)
    encodeRequestHeader(w, { apiKey: 18, apiVersion: 3, correlationId: 1, clientId: 'rdkafka' })
    encodeApiVersionsRequest(w, 3, { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' })
    w.setInt32(0, w.length - 4)
    expect(w.finish().toString('hex')).toBe(kcatFrame.toString('hex'))
  })

  it('v3 response: header v0 (no tag byte), compact array, per-entry and body tags', () => {
    expect(responseHeaderVersion(18, 3)).toBe(0)
    const w = new Writer()
    encodeResponseHeader(w, responseHeaderVersion(18, 3), 7)
    encodeApiVersionsResponse(w, 3, { errorCode: 0, apiKeys: [{ apiKey: 3, minVersion: 0, maxVersion: 12 }], throttleTimeMs: 0 })
    expect(w.finish().toString('hex')).toBe('00000007' + '0000' + '02' + '0003 0000 000c 00'.replace(/ /g, '') + '00000000' + '00')
  })

  it('v0 response is the plain int32-array form', () => {
    const bytes = hex('0000 00000002 0000 0000 0009 0001 0003 000c')
    expect(decodeApiVersionsResponse(new Reader(bytes), 0)).toEqual({
      errorCode: 0,
      apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 9 }, { apiKey: 1, minVersion: 3, maxVersion: 12 }],
      throttleTimeMs: 0, supportedFeatures: [], finalizedFeaturesEpoch: -1, finalizedFeatures: [], zkMigrationReady: false,
    })
  })

  it('writes a tagged field only when it differs from its default', () => {
    const w = new Writer()
    encodeApiVersionsResponse(w, 3, { apiKeys: [], zkMigrationReady: true })
    // error 0 | empty compact array | throttle 0 | 1 tag: tag 3, size 1, true
    expect(w.finish().toString('hex')).toBe('0000' + '01' + '00000000' + '01' + '03' + '01' + '01')
  })
})

describe('Metadata', () => {
  it('v1 request with one topic and with null (= all topics)', () => {
    const one = hex(`00000001 0003 ${ascii('foo')}`)
    expect(decodeMetadataRequest(new Reader(one), 1).topics).toEqual([{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'foo' }])
    const w = new Writer()
    encodeMetadataRequest(w, 1, { topics: [{ name: 'foo' }] })
    expect(w.finish().equals(one)).toBe(true)
    expect(decodeMetadataRequest(new Reader(hex('ffffffff')), 1).topics).toBeNull()
  })

  it('v0 cannot carry null topics; v4 carries allowAutoTopicCreation', () => {
    expect(() => encodeMetadataRequest(new Writer(), 0, { topics: null })).toThrow(/non-nullable/)
    const w = new Writer()
    encodeMetadataRequest(w, 4, { topics: [], allowAutoTopicCreation: false })
    expect(w.finish().toString('hex')).toBe('00000000' + '00')
  })

  it('a non-ignorable field the version cannot carry is refused, not dropped', () => {
    expect(() => encodeMetadataRequest(new Writer(), 3, { allowAutoTopicCreation: false })).toThrow(fieldNotInVersion('MetadataRequest.AllowAutoTopicCreation', 3).message)
    expect(() => encodeMetadataRequest(new Writer(), 3, { allowAutoTopicCreation: true })).not.toThrow()
  })
})

describe('Fetch v12 response', () => {
  it('puts DivergingEpoch in the partition tag section (tag 0, 13 bytes) and reads it back', () => {
    const w = new Writer()
    encodeFetchResponse(w, 12, {
      responses: [{ topic: 't', partitions: [{ partitionIndex: 0, highWatermark: 5, divergingEpoch: { epoch: 2, endOffset: 9 }, records: null }] }],
    })
    const bytes = w.finish()
    const expected =
      '00000000' + '0000' + '00000000' + // throttle, error, session id
      '02' + '02' + '74' + // one topic, compact "t"
      '02' + '00000000' + '0000' + '0000000000000005' + // one partition, index, error, hw
      'ffffffffffffffff' + 'ffffffffffffffff' + // lastStableOffset, logStartOffset defaults
      '01' + // abortedTransactions: empty compact array
      'ffffffff' + // preferred read replica
      '00' + // null compact records
      '01' + '00' + '0d' + '00000002' + '0000000000000009' + '00' + // 1 tag: tag 0, size 13, epoch, end offset, struct tags
      '00' + '00' // topic tags, body tags
    expect(bytes.toString('hex')).toBe(expected)
    const decoded = decodeFetchResponse(new Reader(bytes), 12)
    expect(decoded.responses[0].partitions[0].divergingEpoch).toEqual({ epoch: 2, endOffset: 9 })
    expect(decoded.responses[0].partitions[0].currentLeader).toEqual({ leaderId: -1, leaderEpoch: -1 })
  })

  it('skips unknown tagged fields', () => {
    const w = new Writer()
    encodeFetchResponse(w, 12, { responses: [] })
    const plain = w.finish()
    // Replace the final body tag count 0 with two unknown tags (9: 3 bytes, 200: 0 bytes).
    const withTags = Buffer.concat([plain.subarray(0, plain.length - 1), hex('02 09 03 aabbcc c801 00')])
    expect(decodeFetchResponse(new Reader(withTags), 12)).toEqual(decodeFetchResponse(new Reader(plain), 12))
  })
})

describe('Produce v3 request', () => {
  it('returns records as a view of the frame, not a copy', () => {
    const records = Buffer.from('0102030405', 'hex')
    const frame = hex(`ffff 0001 00000bb8 00000001 0001 ${ascii('t')} 00000001 00000000 00000005 ${records.toString('hex')}`)
    const decoded = decodeProduceRequest(new Reader(frame), 3)
    expect(decoded).toMatchObject({ transactionalId: null, acks: 1, timeoutMs: 3000 })
    const got = decoded.topicData[0].partitionData[0].records!
    expect(got.equals(records)).toBe(true)
    expect(got.buffer).toBe(frame.buffer)
    expect(got.byteOffset).toBe(frame.byteOffset + frame.length - 5)
  })
})
