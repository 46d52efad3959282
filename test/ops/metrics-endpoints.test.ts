/**
 * The operations HTTP endpoint (/health, /ready, /metrics) and the embedded `log.metrics()`
 * registry: exposition checked by promtool's strict parser (Debian's prometheus package).
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { open, type Ringlog } from '../../src/index.js'
import { MetricsServer } from '../../src/metrics/metrics-server.js'
import { removeDir, tempDataDir } from '../client/helpers.js'

const PROMTOOL = '/usr/bin/promtool'

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string; type: string | null }> {
  return fetch(`http://127.0.0.1:${port}${path}`, { method }).then(async (r) => ({ status: r.status, body: await r.text(), type: r.headers.get('content-type') }))
}

/** Value of the sample `name{labels}` in exposition text (labels in the order prom-client writes them). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe('MetricsServer', () => {
  let server: MetricsServer | undefined
  let log: Ringlog | undefined
  let dir: string | undefined
  afterEach(async () => {
    await server?.close()
    await log?.close()
    if (dir) removeDir(dir)
    server = log = dir = undefined
  })

  it('answers /health at once, /ready and /metrics only once the broker is up, and refuses other paths and methods', async () => {
    server = await MetricsServer.start({ host: '127.0.0.1', port: 0 })
    expect((await get(server.port, '/health')).status).toBe(200)
    expect((await get(server.port, '/ready')).status).toBe(503)
    expect((await get(server.port, '/metrics')).status).toBe(503)
    expect((await get(server.port, '/nope')).status).toBe(404)
    expect((await get(server.port, '/health', 'POST')).status).toBe(405)

    dir = tempDataDir('ringlog-metrics-')
    log = await open({ dataDir: dir, flush: 'always' })
    server.serve(log.metrics())
    server.setReady(true)
    expect((await get(server.port, '/ready')).status).toBe(200)
    const metrics = await get(server.port, '/metrics')
    expect(metrics.status).toBe(200)
    expect(metrics.type).toContain('text/plain')
    expect(metrics.body).toContain('# TYPE ringlog_partition_records_in_total counter')
    server.setReady(false)
    expect((await get(server.port, '/ready')).status).toBe(503)
    expect((await get(server.port, '/health')).status).toBe(200)
  })

  it('the scrubber\'s progress per partition: passes and bytes re-checked, no damage found', async () => {
    dir = tempDataDir('ringlog-metrics-')
    log = await open({ dataDir: dir, flush: 'never', scrubIntervalMs: 50, scrubRateMb: 200 })
    await log.admin().createTopics({ topics: [{ topic: 's', numPartitions: 1, configEntries: [{ name: 'segment.bytes', value: String(1024 * 1024) }] }] })
    const producer = log.producer()
    await producer.connect()
    // A little over one segment, so one segment is closed and the scrubber has something to read.
    // (Random text: the embedded producer compresses, and repeated bytes would never fill a segment.)
    for (let i = 0; i < 20; i++) await producer.send({ topic: 's', messages: Array.from({ length: 100 }, () => ({ value: randomBytes(750).toString('base64') })) })
    await producer.disconnect()
    const series = (name: string) => `${name}{topic="s",partition="0"}`
    let text = ''
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      text = await log.metrics().metrics()
      if ((sample(text, series('ringlog_scrub_scanned_bytes_total')) ?? 0) >= 1024 * 1024) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(sample(text, series('ringlog_scrub_passes_total'))).toBeGreaterThanOrEqual(1)
    expect(sample(text, series('ringlog_scrub_scanned_bytes_total'))).toBeGreaterThanOrEqual(1024 * 1024)
    expect(sample(text, series('ringlog_scrub_corrupt_batches_total'))).toBe(0)
  })

  it('log.metrics(): records in, offsets, fdatasync summary and group lag from the embedded log', async () => {
    dir = tempDataDir('ringlog-metrics-')
    log = await open({ dataDir: dir, flush: 'always', groupInitialRebalanceDelayMs: 0 })
    await log.admin().createTopics({ topics: [{ topic: 'm', numPartitions: 1 }] })
    const producer = log.producer()
    await producer.send({ topic: 'm', acks: -1, messages: Array.from({ length: 7 }, (_, i) => ({ value: `v${i}` })) })
    await log.admin().setOffsets({ groupId: 'lagging', topic: 'm', partitions: [{ partition: 0, offset: '2' }] })

    const text = await log.metrics().metrics()
    expect(log.metrics()).toBe(log.metrics())
    expect(sample(text, 'ringlog_partition_records_in_total{topic="m",partition="0"}')).toBe(7)
    expect(sample(text, 'ringlog_partition_log_end_offset{topic="m",partition="0"}')).toBe(7)
    expect(sample(text, 'ringlog_partition_high_watermark{topic="m",partition="0"}')).toBe(7)
    expect(sample(text, 'ringlog_partition_log_start_offset{topic="m",partition="0"}')).toBe(0)
    expect(sample(text, 'ringlog_consumer_group_lag{group="lagging",topic="m",partition="0"}')).toBe(5)
    expect(sample(text, 'ringlog_fdatasync_duration_seconds_count{topic="m",partition="0"}')).toBeGreaterThan(0)
    expect(sample(text, 'ringlog_fdatasync_duration_seconds{topic="m",partition="0",quantile="0.99"}')).toBeGreaterThan(0)
    expect(text).toContain('# TYPE ringlog_fdatasync_duration_seconds summary')
    expect(text).toContain('process_cpu_seconds_total')

    if (existsSync(PROMTOOL)) {
      const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 })
      // promtool exits 1 for lint findings too; a parse error says "error while linting" / "parse error".
      expect(check.stderr + check.stdout).not.toMatch(/parse error|error while linting/i)
    }
  })
})
