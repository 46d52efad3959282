import { describe, expect, it } from 'vitest'
import { replyErrorCodes } from '../../src/broker/reply-error-codes.js'

describe('replyErrorCodes', () => {
  it('finds non-zero codes at the top level and per topic and partition, in order', () => {
    const produce = {
      throttleTimeMs: 0,
      responses: [
        { name: 'a', partitionResponses: [{ index: 0, errorCode: 0 }, { index: 1, errorCode: 3 }] },
        { name: 'b', partitionResponses: [{ index: 0, errorCode: 10 }] },
      ],
    }
    expect(replyErrorCodes(produce)).toEqual([3, 10])
    expect(replyErrorCodes({ errorCode: 35, apiKeys: [{ apiKey: 0 }] })).toEqual([35])
    expect(replyErrorCodes({ errorCode: 0, topics: [] })).toEqual([])
  })

  it('does not look inside Buffers and stops at a fixed depth', () => {
    const records = Buffer.from([0, 1, 2])
    expect(replyErrorCodes({ records, nested: { errorCode: 7 } })).toEqual([7])
    const deep = { a: { b: { c: { d: { e: { errorCode: 9 } } } } } }
    expect(replyErrorCodes(deep)).toEqual([])
  })
})
