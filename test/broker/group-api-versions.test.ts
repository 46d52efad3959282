/**
 * The group API versions served since issue 14 (JoinGroup v8-9, LeaveGroup v5, ListGroups v5,
 * OffsetCommit v9, OffsetFetch v0, FindCoordinator v5) and what a version above the served range
 * gets. Golden bytes: every request is written here byte by byte the way the vendored Kafka
 * schema lays it out (not with ringlog's codecs), sent over a real socket, and the response is
 * read back by hand, field by field, to its last byte. A broker in this process on 127.0.0.1:0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BrokerLogger, LogFields } from '../../src/broker/logger.js'
import { BrokerServer } from '../../src/broker/server.js'
import { resolveConfig } from '../../src/config.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { GROUP_TEST_CONFIG, tempDir } from '../compat/groups-harness.js'
import { RawClient } from './raw-client.js'

const TOPIC = 'golden-topic'

/** Writes Kafka's primitive types (both the classic and the compact, flexible encodings). */
class Bytes {
  private readonly parts: Buffer[] = []
  int8(v: number): this { const b = Buffer.alloc(1); b.writeInt8(v); this.parts.push(b); return this }
  int16(v: number): this { const b = Buffer.alloc(2); b.writeInt16BE(v); this.parts.push(b); return this }
  int32(v: number): this { const b = Buffer.alloc(4); b.writeInt32BE(v); this.parts.push(b); return this }
  int64(v: bigint): this { const b = Buffer.alloc(8); b.writeBigInt64BE(v); this.parts.push(b); return this }
  uvarint(v: number): this {
    const out: number[] = []
    let n = v
    while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n >>>= 7 }
    out.push(n)
    this.parts.push(Buffer.from(out))
    return this
  }
  string(s: string | null): this {
    if (s === null) return this.int16(-1)
    const b = Buffer.from(s, 'utf8')
    this.int16(b.length)
    this.parts.push(b)
    return this
  }
  compactString(s: string | null): this {
    if (s === null) return this.uvarint(0)
    const b = Buffer.from(s, 'utf8')
    this.uvarint(b.length + 1)
    this.parts.push(b)
    return this
  }
  compactBytes(b: Buffer): this { this.uvarint(b.length + 1); this.parts.push(b); return this }
  /** An empty tagged-field section. */
  tags(): this { return this.uvarint(0) }
  finish(): Buffer { return Buffer.concat(this.parts) }
}

/** Reads a response frame (correlation id first, no size prefix) and insists every byte is consumed. */
class Read {
  at = 0
  constructor(private readonly b: Buffer) {}
  int8(): number { return this.b.readInt8(this.at++) }
  int16(): number { const v = this.b.readInt16BE(this.at); this.at += 2; return v }
  int32(): number { const v = this.b.readInt32BE(this.at); this.at += 4; return v }
  int64(): bigint { const v = this.b.readBigInt64BE(this.at); this.at += 8; return v }
  uvarint(): number {
    let v = 0
    let shift = 0
    for (;;) {
      const byte = this.b[this.at++]
      v |= (byte & 0x7f) << shift
      if ((byte & 0x80) === 0) return v
      shift += 7
    }
  }
  string(): string | null {
    const n = this.int16()
    if (n < 0) return null
    const s = this.b.toString('utf8', this.at, this.at + n)
    this.at += n
    return s
  }
  compactString(): string | null {
    const n = this.uvarint() - 1
    if (n < 0) return null
    const s = this.b.toString('utf8', this.at, this.at + n)
    this.at += n
    return s
  }
  compactBytes(): Buffer { const n = this.uvarint() - 1; const v = this.b.subarray(this.at, this.at + n); this.at += n; return v }
  compactArray<T>(each: () => T): T[] { const n = this.uvarint() - 1; return Array.from({ length: Math.max(n, 0) }, each) }
  array<T>(each: () => T): T[] { const n = this.int32(); return Array.from({ length: Math.max(n, 0) }, each) }
  noTags(): void { expect(this.uvarint()).toBe(0) }
  end(): void { expect(this.at).toBe(this.b.length) }
}

/** A whole request frame: size, header v1 (classic) or v2 (flexible: header tags), body. */
function frame(apiKey: number, version: number, flexible: boolean, body: Buffer): Buffer {
  const head = new Bytes().int16(apiKey).int16(version).int32(0).string('golden-client')
  if (flexible) head.tags()
  const payload = Buffer.concat([head.finish(), body])
  return Buffer.concat([new Bytes().int32(payload.length).finish(), payload])
}

/** Sends a hand-built frame and returns a reader placed at the response body. */
async function exchange(c: RawClient, apiKey: number, version: number, flexible: boolean, body: Buffer): Promise<Read> {
  const response = await c.send(frame(apiKey, version, flexible, body))
  const r = new Read(response)
  r.int32() // correlation id
  if (flexible) r.noTags() // response header v1
  return r
}

const subscription = Buffer.from([0, 1, 0, 0, 0, 1, 0, 12, ...Buffer.from(TOPIC), 0xff, 0xff, 0xff, 0xff])

interface JoinAnswer { errorCode: number; generationId: number; protocolType: string | null; protocolName: string | null; leader: string | null; skipAssignment: number | null; memberId: string | null; members: { memberId: string | null; groupInstanceId: string | null; metadata: Buffer }[] }

function readJoin(r: Read, version: number): JoinAnswer {
  const throttle = r.int32()
  expect(throttle).toBe(0)
  const answer: JoinAnswer = {
    errorCode: r.int16(),
    generationId: r.int32(),
    protocolType: r.compactString(),
    protocolName: r.compactString(),
    leader: r.compactString(),
    skipAssignment: version >= 9 ? r.int8() : null,
    memberId: r.compactString(),
    members: r.compactArray(() => {
      const m = { memberId: r.compactString(), groupInstanceId: r.compactString(), metadata: Buffer.from(r.compactBytes()) }
      r.noTags()
      return m
    }),
  }
  r.noTags()
  r.end()
  return answer
}

describe('group API versions, golden bytes', () => {
  const dir = tempDir('group-api-versions')
  const lines: { level: string; message: string; fields?: LogFields }[] = []
  const logger: BrokerLogger = {
    error: (message, fields) => { lines.push({ level: 'error', message, fields }) },
    warn: (message, fields) => { lines.push({ level: 'warn', message, fields }) },
    info: (message, fields) => { lines.push({ level: 'info', message, fields }) },
  }
  let server: BrokerServer
  const clients: RawClient[] = []
  const connect = async (): Promise<RawClient> => {
    const c = await RawClient.connect(server.address().port)
    clients.push(c)
    return c
  }

  beforeAll(async () => {
    server = await BrokerServer.start(resolveConfig(GROUP_TEST_CONFIG, { dataDir: dir.path }), { logger })
    await server.context.createTopic(TOPIC, 2)
  })
  afterAll(async () => {
    for (const c of clients) c.close()
    await server?.stop()
    dir.remove()
  })

  function joinRequest(memberId: string, instanceId: string | null, reason: string | null): Buffer {
    return new Bytes()
      .compactString('golden-group').int32(6000).int32(4000).compactString(memberId).compactString(instanceId)
      .compactString('consumer')
      .uvarint(2).compactString('range').compactBytes(subscription).tags()
      .compactString(reason)
      .tags()
      .finish()
  }

  it('JoinGroup v8 logs the reason; v9 gives a returning static leader the members and skipAssignment, v8 answers it as a follower', async () => {
    const c = await connect()
    const first = readJoin(await exchange(c, 11, 8, true, joinRequest('', 'inst-a', 'golden first join')), 8)
    expect(first).toMatchObject({ errorCode: 0, generationId: 1, protocolType: 'consumer', protocolName: 'range', skipAssignment: null })
    expect(first.memberId).toMatch(/^inst-a-/)
    expect(first.leader).toBe(first.memberId)
    expect(first.members).toEqual([{ memberId: first.memberId, groupInstanceId: 'inst-a', metadata: subscription }])
    const reasonLine = lines.find((l) => l.level === 'info' && l.fields?.reason === 'golden first join')
    expect(reasonLine?.message).toMatch(/group golden-group: member inst-a-\S+ joins \(client reason: golden first join\)/)

    const assignment = Buffer.from([0, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    const sync = await c.request<{ errorCode: number; assignment: Buffer }>(14, 5, {
      groupId: 'golden-group', generationId: 1, memberId: first.memberId, groupInstanceId: 'inst-a',
      protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: first.memberId, assignment }],
    })
    expect(sync.errorCode).toBe(0)

    // The static leader restarts (empty member id, same instance): v9 sees the members and skips the assignment.
    const v9 = readJoin(await exchange(c, 11, 9, true, joinRequest('', 'inst-a', null)), 9)
    expect(v9).toMatchObject({ errorCode: 0, generationId: 1, protocolName: 'range', skipAssignment: 1 })
    expect(v9.memberId).not.toBe(first.memberId)
    expect(v9.leader).toBe(v9.memberId)
    expect(v9.members).toEqual([{ memberId: v9.memberId, groupInstanceId: 'inst-a', metadata: subscription }])
    const kept = await c.request<{ errorCode: number; assignment: Buffer }>(14, 5, {
      groupId: 'golden-group', generationId: 1, memberId: v9.memberId, groupInstanceId: 'inst-a', assignments: [],
    })
    expect(kept.errorCode).toBe(0)
    expect(Buffer.from(kept.assignment)).toEqual(assignment)

    // The same restart at v8: the previous leader id and no members (the follower path), no skipAssignment byte.
    const v8 = readJoin(await exchange(c, 11, 8, true, joinRequest('', 'inst-a', null)), 8)
    expect(v8).toMatchObject({ errorCode: 0, generationId: 1, leader: v9.memberId, members: [], skipAssignment: null })
    expect(v8.memberId).not.toBe(v9.memberId)
  })

  it('LeaveGroup v5 takes a static member out by instance id and logs its reason', async () => {
    const c = await connect()
    const body = new Bytes()
      .compactString('golden-group')
      .uvarint(2).compactString('').compactString('inst-a').compactString('golden shutdown').tags()
      .tags()
      .finish()
    const r = await exchange(c, 13, 5, true, body)
    expect(r.int32()).toBe(0)
    expect(r.int16()).toBe(ErrorCode.NONE)
    const members = r.compactArray(() => { const m = { memberId: r.compactString(), groupInstanceId: r.compactString(), errorCode: r.int16() }; r.noTags(); return m })
    r.noTags()
    r.end()
    expect(members).toEqual([{ memberId: '', groupInstanceId: 'inst-a', errorCode: 0 }])
    const line = lines.find((l) => l.level === 'info' && l.fields?.reason === 'golden shutdown')
    expect(line?.message).toBe('group golden-group: member instance inst-a leaves (client reason: golden shutdown)')
    expect(line?.fields).toMatchObject({ clientId: 'golden-client', errorCode: 0 })
  })

  it('ListGroups v5 types every group "classic"; a types filter without "classic" (any case) lists none', async () => {
    const c = await connect()
    const listTypes = async (types: string[]) => {
      const body = new Bytes().uvarint(1)
      body.uvarint(types.length + 1)
      for (const t of types) body.compactString(t)
      const r = await exchange(c, 16, 5, true, body.tags().finish())
      expect(r.int32()).toBe(0)
      expect(r.int16()).toBe(ErrorCode.NONE)
      const groups = r.compactArray(() => { const g = { groupId: r.compactString(), protocolType: r.compactString(), groupState: r.compactString(), groupType: r.compactString() }; r.noTags(); return g })
      r.noTags()
      r.end()
      return groups
    }
    const all = await listTypes([])
    expect(all).toContainEqual({ groupId: 'golden-group', protocolType: 'consumer', groupState: 'Empty', groupType: 'classic' })
    expect((await listTypes(['CLASSIC'])).map((g) => g.groupId)).toContain('golden-group')
    expect(await listTypes(['consumer'])).toEqual([])
    expect(await listTypes(['share', 'no-such-type'])).toEqual([])
  })

  function commitBody(groupId: string, generation: number, memberId: string, offset: bigint): Buffer {
    return new Bytes()
      .compactString(groupId).int32(generation).compactString(memberId).compactString(null)
      .uvarint(2).compactString(TOPIC)
      .uvarint(2).int32(1).int64(offset).int32(-1).compactString('golden-meta').tags()
      .tags()
      .tags()
      .finish()
  }

  async function commitError(c: RawClient, version: 8 | 9, body: Buffer): Promise<number> {
    const r = await exchange(c, 8, version, true, body)
    expect(r.int32()).toBe(0)
    const topics = r.compactArray(() => {
      const t = { name: r.compactString(), partitions: r.compactArray(() => { const p = { partitionIndex: r.int32(), errorCode: r.int16() }; r.noTags(); return p }) }
      r.noTags()
      return t
    })
    r.noTags()
    r.end()
    expect(topics).toHaveLength(1)
    expect(topics[0].name).toBe(TOPIC)
    expect(topics[0].partitions.map((p) => p.partitionIndex)).toEqual([1])
    return topics[0].partitions[0].errorCode
  }

  it('OffsetCommit v9: a simple commit stores; an unknown group with a generation is GROUP_ID_NOT_FOUND (v8: ILLEGAL_GENERATION); a KIP-848 member id on a classic group is UNKNOWN_MEMBER_ID', async () => {
    const c = await connect()
    expect(await commitError(c, 9, commitBody('golden-simple', -1, '', 42n))).toBe(ErrorCode.NONE)
    expect(await commitError(c, 9, commitBody('golden-nobody', 3, 'someone', 1n))).toBe(ErrorCode.GROUP_ID_NOT_FOUND)
    expect(await commitError(c, 8, commitBody('golden-nobody', 3, 'someone', 1n))).toBe(ErrorCode.ILLEGAL_GENERATION)
    // A new-protocol consumer names itself by a Uuid-like member id and its member epoch.
    expect(await commitError(c, 9, commitBody('golden-simple', 5, 'kGfLCPVjQeOyAcsvTH1WHQ', 7n))).toBe(ErrorCode.UNKNOWN_MEMBER_ID)
  })

  it('OffsetFetch v0 answers the offsets committed to the coordinator, laid out as v0', async () => {
    const c = await connect()
    // groupId, topics: [name, partitionIndexes [1, 0]] (classic encodings, v0 = v1's layout).
    const v0 = new Bytes().string('golden-simple').int32(1).string(TOPIC).int32(2).int32(1).int32(0).finish()
    const r = await exchange(c, 9, 0, false, v0)
    const topics = r.array(() => ({ name: r.string(), partitions: r.array(() => ({ partitionIndex: r.int32(), offset: r.int64(), metadata: r.string(), errorCode: r.int16() })) }))
    r.end()
    expect(topics).toEqual([{
      name: TOPIC,
      partitions: [
        { partitionIndex: 1, offset: 42n, metadata: 'golden-meta', errorCode: 0 },
        { partitionIndex: 0, offset: -1n, metadata: '', errorCode: 0 },
      ],
    }])
  })

  it('FindCoordinator v5 answers each key with this broker, as v4', async () => {
    const c = await connect()
    const r = await exchange(c, 10, 5, true, new Bytes().int8(0).uvarint(3).compactString('golden-group').compactString('other').tags().finish())
    expect(r.int32()).toBe(0)
    const coordinators = r.compactArray(() => {
      const x = { key: r.compactString(), nodeId: r.int32(), host: r.compactString(), port: r.int32(), errorCode: r.int16(), errorMessage: r.compactString() }
      r.noTags()
      return x
    })
    r.noTags()
    r.end()
    const { port } = server.address()
    expect(coordinators).toEqual([
      { key: 'golden-group', nodeId: 0, host: '127.0.0.1', port, errorCode: 0, errorMessage: null },
      { key: 'other', nodeId: 0, host: '127.0.0.1', port, errorCode: 0, errorMessage: null },
    ])
  })

  it('a version above the served range: ApiVersions gets UNSUPPORTED_VERSION and the list, a group API closes the connection with one warn line', async () => {
    const c = await connect()
    // ApiVersions v3+ requests carry header v2; the response header is always v0 (KIP-511).
    const r = new Read(await c.send(frame(18, 4, true, new Bytes().compactString('golden').compactString('1').tags().finish())))
    r.int32()
    expect(r.int16()).toBe(ErrorCode.UNSUPPORTED_VERSION)
    const ranges = new Map(r.array(() => [r.int16(), [r.int16(), r.int16()]] as const))
    r.end()
    expect([8, 9, 10, 11, 13, 16].map((k) => [k, ranges.get(k)])).toEqual([[8, [0, 9]], [9, [0, 9]], [10, [0, 5]], [11, [0, 9]], [13, [0, 5]], [16, [0, 5]]])

    c.write(frame(11, 10, true, joinRequest('', null, null)))
    expect(await c.closesWithin(5000)).toBe(true)
    const refused = lines.filter((l) => l.level === 'warn' && l.fields?.apiKey === 11 && l.fields?.apiVersion === 10)
    expect(refused).toHaveLength(1)
    expect(refused[0].message).toMatch(/unsupported version v10 of JoinGroup \(this broker serves v0-v9\) from client id "golden-client", software unnamed/)
  })
})
