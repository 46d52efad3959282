/**
 * `ringlog serve` logs through pino: JSON lines on stderr (not a terminal here) at
 * --log-level; info has start, recovery and topic lifecycle, debug adds connections and
 * requests, warn names the peer whose bad input was refused. The readable formatter (used on
 * a terminal) is checked on its own.
 */
import { connect } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, describe, expect, it } from 'vitest'
import { formatLogLine } from '../../src/broker/readable-log-lines.js'
import { serveFailure, startRinglogBroker } from '../cli/ringlog-process.js'

interface LogLine { level: string; msg: string; [key: string]: unknown }

function parseLines(stderr: string): LogLine[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine)
}

/** Sends a frame whose request header is garbage and resolves when the broker closes the socket. */
function sendGarbage(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      const frame = Buffer.alloc(8)
      frame.writeInt32BE(4, 0)
      frame.writeInt32BE(0x7fff0000, 4)
      socket.write(frame)
    })
    socket.on('error', reject)
    socket.on('close', () => resolve())
  })
}

async function exercise(port: number, clientId: string): Promise<void> {
  const kafka = new Kafka({ clientId, brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: 'logged', numPartitions: 2 }] })
  const producer = kafka.producer()
  await producer.connect()
  await producer.send({ topic: 'logged', messages: [{ value: 'x' }] })
  await producer.disconnect()
  await admin.deleteTopics({ topics: ['logged'] })
  await admin.disconnect()
  await sendGarbage(port)
}

describe('ringlog serve logs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ringlog-logs-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('debug (from RINGLOG_LOG_LEVEL): lifecycle, connections with client id, each request, and the refused peer', async () => {
    const broker = await startRinglogBroker(['--data-dir', join(dir, 'debug')], { RINGLOG_LOG_LEVEL: 'debug' })
    await exercise(broker.port, 'log-test-client')
    expect(await broker.stop()).toBe(0)
    const lines = parseLines(broker.stderr())
    const find = (msg: string): LogLine[] => lines.filter((l) => l.msg === msg)
    expect(find('recovery finished')[0]).toMatchObject({ level: 'info', partitions: 0, recovered: 0 })
    expect(find('started')[0]).toMatchObject({ level: 'info', port: broker.port })
    expect(find('topic created')[0]).toMatchObject({ level: 'info', topic: 'logged' })
    expect(find('topic deleted')[0]).toMatchObject({ level: 'info', topic: 'logged' })
    expect(find('client').some((l) => l.level === 'debug' && l.clientId === 'log-test-client' && String(l.peer).startsWith('127.0.0.1:'))).toBe(true)
    const produce = find('request').find((l) => l.api === 'Produce')
    expect(produce).toMatchObject({ level: 'debug', error: 'NONE' })
    expect(typeof produce!.ms).toBe('number')
    expect(typeof produce!.version).toBe('number')
    const refused = lines.find((l) => l.level === 'warn' && /malformed request header|unsupported request/.test(l.msg))
    expect(refused?.peer).toMatch(/^127\.0\.0\.1:\d+$/)
  })

  it('info (--log-level info): lifecycle lines but no connection or request lines', async () => {
    const broker = await startRinglogBroker(['--data-dir', join(dir, 'info'), '--log-level', 'info'])
    await exercise(broker.port, 'quiet-client')
    expect(await broker.stop()).toBe(0)
    const lines = parseLines(broker.stderr())
    expect(lines.some((l) => l.msg === 'topic created')).toBe(true)
    expect(lines.filter((l) => l.level === 'debug' || l.level === 'trace')).toEqual([])
    expect(lines.some((l) => l.level === 'warn' && typeof l.peer === 'string')).toBe(true)
  })

  it('refuses an unknown level', async () => {
    const { code, stderr } = await serveFailure(['--data-dir', join(dir, 'bad'), '--log-level', 'loud'])
    expect(code).not.toBe(0)
    expect(stderr).toMatch(/logLevel must be one of error, warn, info, debug, trace/)
  })
})

describe('readable log lines (terminal)', () => {
  it('shows time, level, message and fields, quoting values with spaces', () => {
    const line = formatLogLine(JSON.stringify({ level: 'warn', time: '2026-12-03T18:20:01.123Z', pid: 7, msg: 'refused', peer: '127.0.0.1:5000', reason: 'bad header' }))
    expect(line).toBe('18:20:01.123 WARN  refused peer=127.0.0.1:5000 reason="bad header"\n')
  })

  it('passes a line that is not JSON through unchanged', () => {
    expect(formatLogLine('plain text')).toBe('plain text\n')
  })
})
