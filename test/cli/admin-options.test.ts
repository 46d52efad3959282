/**
 * The admin commands' option handling, in-process through the CLI's own run() (no broker is
 * reached: each case fails before connecting), and the parsers and formatters they use.
 * The commands against a real broker are in admin-commands.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { run } from '../../src/cli/main.js'
import { formatResetPlan, parseDateTime, parseTopicScope } from '../../src/cli/group-offsets-reset.js'
import { deletionFailure } from '../../src/cli/groups.js'
import { checkAlteration, describeAlteration } from '../../src/cli/topic-configs.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'

/** Runs the CLI in this process; resolves with its exit code and what it wrote to stderr. */
async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = ''
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk)
    return true
  })
  try {
    // A closed port: a case that got as far as connecting would fail differently.
    return { code: await run([...args, '-b', '127.0.0.1:1']), stderr }
  } finally {
    spy.mockRestore()
  }
}

afterEach(() => vi.restoreAllMocks())

describe('admin command options', () => {
  it.each([
    [['topics', 'alter', 't'], /^ringlog: nothing to alter: give --partitions, --config or --delete-config\n$/],
    [['topics', 'alter', 't', '--config', 'a=1', '--delete-config', 'a'], /^ringlog: --config and --delete-config both name a\n$/],
    [['topics', 'alter', 't', '--config', 'novalue'], /^ringlog: --config must be key=value, got "novalue"\n$/],
    [['topics', 'alter', 't', '-p', '0'], /^ringlog: --partitions must be an integer >= 1, got "0"\n$/],
    [['records', 'delete', 't', '-p', '0', '--before', '-2'], /^ringlog: --before must be an integer >= -1, got "-2"\n$/],
    [['records', 'delete', 't', '--before', '3'], /^ringlog: required option '-p, --partition <n>' not specified\n$/],
    [['groups', 'reset-offsets', 'g', '--topic', 't'], /^ringlog: give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by\n$/],
    [['groups', 'reset-offsets', 'g', '--topic', 't', '--to-earliest', '--to-latest'], /^ringlog: give exactly one of /],
    [['groups', 'reset-offsets', 'g', '--to-earliest'], /^ringlog: give the partitions to reset: --topic or --all-topics\n$/],
    [['groups', 'reset-offsets', 'g', '--all-topics', '--topic', 't', '--to-earliest'], /^ringlog: --topic and --all-topics exclude each other\n$/],
    [['groups', 'reset-offsets', 'g', '--topic', 't', '--to-latest', '--execute', '--dry-run'], /^ringlog: --dry-run and --execute exclude each other\n$/],
    [['groups', 'reset-offsets', 'g', '--topic', 't:x', '--to-latest'], /^ringlog: invalid partition 'x' in topic arg 't:x'\n$/],
    [['groups', 'reset-offsets', 'g', '--topic', 't', '--shift-by', '1.5'], /^ringlog: --shift-by must be an integer, got "1\.5"\n$/],
    [['groups', 'reset-offsets', 'g', '--topic', 't', '--to-datetime', 'yesterday'], /^ringlog: --to-datetime must be an ISO date-time/],
    [['groups', 'delete'], /^ringlog: missing required argument 'groups'\n$/],
  ])('%j fails with one line before connecting', async (args, message) => {
    const { code, stderr } = await cli(args)
    expect(stderr).toMatch(message)
    expect(code).toBe(1)
  })

  it('reads --topic scopes as kafka-consumer-groups.sh does', () => {
    expect(parseTopicScope('events')).toEqual({ topic: 'events', partitions: null })
    expect(parseTopicScope('events:2,0,2')).toEqual({ topic: 'events', partitions: [0, 2] })
    expect(() => parseTopicScope(':1')).toThrow(/expected topic name and partitions/)
  })

  it('reads ISO date-times with a zone, an offset, or none (local time)', () => {
    expect(parseDateTime('2024-05-01T12:00:00.250Z')).toBe(Date.UTC(2024, 4, 1, 12, 0, 0, 250))
    expect(parseDateTime('2024-05-01T12:00:00+0200')).toBe(Date.UTC(2024, 4, 1, 10))
    expect(parseDateTime('2024-05-01T12:00+02:00')).toBe(Date.UTC(2024, 4, 1, 10))
    expect(parseDateTime('2024-05-01T12:00:00')).toBe(new Date(2024, 4, 1, 12).getTime())
    expect(() => parseDateTime('2024-05-01')).toThrow(/ISO date-time/)
    expect(() => parseDateTime('2024-13-45T99:00:00Z')).toThrow(/ISO date-time/)
  })

  it('formats a reset plan, an alteration and a partial group deletion', () => {
    const plan = { groupId: 'g', state: 'Empty', warnings: [], offsets: [{ topic: 'events', partition: 0, currentOffset: 3, newOffset: 0 }, { topic: 'events', partition: 10, currentOffset: null, newOffset: 1200 }] }
    expect(formatResetPlan(plan)).toBe('GROUP  TOPIC   PARTITION  NEW-OFFSET\ng      events  0          0\ng      events  10         1200')
    expect(describeAlteration('t', { partitions: 6, set: { 'retention.ms': '1' }, delete: ['segment.ms'] })).toBe('altered topic t: 6 partitions, retention.ms=1, segment.ms deleted')
    expect(() => checkAlteration({ delete: ['a', 'a'] })).toThrow(/--delete-config names a twice/)
    expect(deletionFailure([{ groupId: 'a', errorCode: ErrorCode.NONE }])).toBeNull()
    const failure = deletionFailure([{ groupId: 'a', errorCode: ErrorCode.NONE }, { groupId: 'b', errorCode: ErrorCode.NON_EMPTY_GROUP }, { groupId: 'c', errorCode: ErrorCode.GROUP_ID_NOT_FOUND }])
    expect(failure?.message).toBe('cannot delete group "b": NON_EMPTY_GROUP (the group has active members); cannot delete group "c": GROUP_ID_NOT_FOUND (no such group)')
  })
})
