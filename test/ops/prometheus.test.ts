/**
 * A real Prometheus (Debian's /usr/bin/prometheus) on loopback scrapes `ringlog serve
 * --metrics-port` every second; after a seeded number of records is produced with kafkajs, a
 * PromQL query through Prometheus's HTTP API returns that count.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, describe, expect, it } from 'vitest'
import { startRinglogBroker, type RinglogBroker } from '../cli/ringlog-process.js'
import { randomForTest } from '../seed.js'

const PROMETHEUS = '/usr/bin/prometheus'

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

async function query(port: number, promql: string): Promise<number | undefined> {
  const response = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`).catch(() => undefined)
  if (!response?.ok) return undefined
  const body = await response.json() as { data?: { result?: { value: [number, string] }[] } }
  const first = body.data?.result?.[0]
  return first ? Number(first.value[1]) : undefined
}

/** Polls `promql` until it equals `expected` (bounded: 120 tries, 500 ms apart); returns the last value seen. */
async function queryUntil(port: number, promql: string, expected: number): Promise<number | undefined> {
  let last: number | undefined
  for (let i = 0; i < 120; i++) {
    last = await query(port, promql)
    if (last === expected) return last
    await new Promise((r) => setTimeout(r, 500))
  }
  return last
}

describe.skipIf(!existsSync(PROMETHEUS))('metrics scraped by a real Prometheus', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ringlog-prometheus-'))
  let broker: RinglogBroker | undefined
  let prometheus: ChildProcess | undefined

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus!.once('exit', r))
      process.kill(prometheus.pid!, 'SIGTERM')
      await exited
    }
    await broker?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('PromQL returns the number of records produced', async () => {
    const random = randomForTest()
    const records = 50 + random.int(450)
    broker = await startRinglogBroker(['--metrics-port', '0', '--data-dir', join(dir, 'data'), '--flush', 'never', '--log-level', 'warn'])
    const metricsPort = broker.metricsPort!
    expect(metricsPort).toBeGreaterThan(0)

    const promPort = await freePort()
    const configFile = join(dir, 'prometheus.yml')
    writeFileSync(configFile, [
      'global:', '  scrape_interval: 1s', '  evaluation_interval: 1s',
      'scrape_configs:', '  - job_name: ringlog', '    static_configs:', `      - targets: ['127.0.0.1:${metricsPort}']`, '',
    ].join('\n'))
    prometheus = spawn(PROMETHEUS, [
      `--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] })
    let promLog = ''
    prometheus.stderr!.on('data', (d: Buffer) => { promLog += d.toString() })

    const kafka = new Kafka({ clientId: 'prometheus-test', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: 'metered', numPartitions: 2 }] })
    await admin.disconnect()
    const producer = kafka.producer()
    await producer.connect()
    for (let sent = 0; sent < records;) {
      const n = Math.min(records - sent, 1 + random.int(100))
      await producer.send({ topic: 'metered', messages: Array.from({ length: n }, (_, i) => ({ key: `k${sent + i}`, value: `record ${sent + i}` })) })
      sent += n
    }
    await producer.disconnect()

    const appended = await queryUntil(promPort, 'sum(ringlog_partition_records_in_total{topic="metered"})', records)
    expect(appended, promLog.slice(-2000)).toBe(records)
    expect(await query(promPort, 'sum(ringlog_partition_log_end_offset{topic="metered"})')).toBe(records)
    expect(await query(promPort, 'up{job="ringlog"}')).toBe(1)
    expect(await query(promPort, 'sum(ringlog_requests_total{api="Produce"})')).toBeGreaterThan(0)
    expect(await query(promPort, 'sum(ringlog_partition_bytes_in_total{topic="metered"})')).toBeGreaterThan(records)
    expect(await query(promPort, 'count(process_cpu_seconds_total)')).toBe(1)
    expect(await query(promPort, 'sum(ringlog_request_duration_seconds_count{api="Produce"})')).toBeGreaterThan(0)

    // The broker's own exposition (with requests, so histograms have series) through promtool's strict parser.
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    expect(text).toMatch(/^ringlog_request_duration_seconds_bucket\{le="\+Inf",api="Produce"\} \d+$/m)
    const check = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 })
    expect(check.stderr + check.stdout).not.toMatch(/parse error|error while linting/i)
  })
})
