import { describe, expect, it } from 'vitest'
import {
  decodeRequestHeader, decodeResponseHeader, encodeRequestHeader, encodeResponseHeader,
  requestHeaderVersion, responseHeaderVersion,
} from '../../src/protocol/headers.js'
import { ProtocolDecodeError, Reader, Writer } from '../../src/protocol/primitives.js'

describe('header versions', () => {
  it('request: v2 for flexible versions, v1 otherwise, v0 for ControlledShutdown v0', () => {
    expect(requestHeaderVersion(18, 2)).toBe(1)
    expect(requestHeaderVersion(18, 3)).toBe(2)
    expect(requestHeaderVersion(18, 4)).toBe(2) // newer than ringlog knows: still flexible
    expect(requestHeaderVersion(3, 8)).toBe(1)
    expect(requestHeaderVersion(3, 9)).toBe(2)
    expect(requestHeaderVersion(0, 9)).toBe(2)
    expect(requestHeaderVersion(1, 11)).toBe(1)
    expect(requestHeaderVersion(1, 12)).toBe(2)
    expect(requestHeaderVersion(7, 0)).toBe(0)
    expect(requestHeaderVersion(9999, 0)).toBe(1)
  })

  it('response: ApiVersions always v0; others v1 when flexible', () => {
    for (let v = 0; v <= 4; v++) expect(responseHeaderVersion(18, v)).toBe(0)
    expect(responseHeaderVersion(3, 8)).toBe(0)
    expect(responseHeaderVersion(3, 9)).toBe(1)
    expect(responseHeaderVersion(10, 3)).toBe(1)
    expect(responseHeaderVersion(11, 5)).toBe(0)
    expect(responseHeaderVersion(11, 6)).toBe(1)
  })
})

describe('request header', () => {
  it('v1: int16 client id, no tags', () => {
    const bytes = Buffer.from('0003000100000005000261620000', 'hex') // + 4 body bytes
    const r = new Reader(bytes)
    expect(decodeRequestHeader(r)).toEqual({ apiKey: 3, apiVersion: 1, correlationId: 5, clientId: 'ab' })
    expect(r.offset).toBe(12)
  })

  it('v2: the client id stays int16-prefixed; unknown header tags are skipped', () => {
    const bytes = Buffer.from('0003000900000005' + '0002' + '6162' + '01' + '05' + '02' + 'aaaa', 'hex')
    const r = new Reader(bytes)
    expect(decodeRequestHeader(r)).toEqual({ apiKey: 3, apiVersion: 9, correlationId: 5, clientId: 'ab' })
    expect(r.remaining).toBe(0)
  })

  it('null client id', () => {
    const r = new Reader(Buffer.from('00000003' + '00000009' + 'ffff', 'hex'))
    expect(decodeRequestHeader(r).clientId).toBeNull()
  })

  it('round-trips in all three versions', () => {
    for (const h of [
      { apiKey: 7, apiVersion: 0, correlationId: 1, clientId: null },
      { apiKey: 1, apiVersion: 11, correlationId: -5, clientId: 'consumer-é' },
      { apiKey: 1, apiVersion: 12, correlationId: 2 ** 31 - 1, clientId: null },
    ]) {
      const w = new Writer()
      encodeRequestHeader(w, h)
      const r = new Reader(Buffer.from(w.finish()))
      expect(decodeRequestHeader(r)).toEqual(h)
      expect(r.remaining).toBe(0)
    }
  })

  it('truncated headers throw ProtocolDecodeError', () => {
    const w = new Writer()
    encodeRequestHeader(w, { apiKey: 18, apiVersion: 3, correlationId: 9, clientId: 'client' })
    const full = Buffer.from(w.finish())
    for (let cut = 0; cut < full.length; cut++) {
      expect(() => decodeRequestHeader(new Reader(full.subarray(0, cut)))).toThrow(ProtocolDecodeError)
    }
  })
})

describe('response header', () => {
  it('v0 is the correlation id; v1 adds an empty tag section', () => {
    const w0 = new Writer()
    encodeResponseHeader(w0, 0, 42)
    expect(w0.finish().toString('hex')).toBe('0000002a')
    const w1 = new Writer()
    encodeResponseHeader(w1, 1, 42)
    expect(w1.finish().toString('hex')).toBe('0000002a00')
    expect(decodeResponseHeader(new Reader(Buffer.from('0000002a00', 'hex')), 1)).toBe(42)
  })
})
