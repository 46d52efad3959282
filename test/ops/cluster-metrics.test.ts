/**
 * Cluster-mode metrics, scraped from the /metrics of three real broker processes
 * (startBroker({ cluster: 3 }) with metricsPort): exactly one broker reports
 * ringlog_controller_active 1 and it is the controller kafkajs's DescribeCluster names; each
 * partition's ISR size is reported once, by its leader; after a controlled shutdown of one
 * broker its RF 3 partitions are under-replicated on their leaders and its RF 1 partitions
 * offline on the controller. The worker ring gauges are there too, and promtool's strict parser
 * accepts the exposition. Needs `npm run build` and /usr/bin/etcd.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, describe, expect, it } from 'vitest'
import { type StartedCluster, startBroker } from '../../src/index.js'

const built = existsSync(fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const PROMTOOL = '/usr/bin/promtool'

interface Scrape { text: string; samples: Map<string, number> }

async function scrape(port: number): Promise<Scrape> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`)
  expect(response.status).toBe(200)
  const text = await response.text()
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    samples.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return { text, samples }
}

/** Samples of one metric name: labels text -> value. */
function series(s: Scrape, name: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const [key, value] of s.samples) {
    if (key === name) out.set('', value)
    else if (key.startsWith(`${name}{`)) out.set(key.slice(name.length), value)
  }
  return out
}

describe.skipIf(!built || !hasEtcd)('cluster metrics on /metrics', () => {
  let cluster: StartedCluster | undefined
  afterAll(async () => { await cluster?.stop() })

  it('controller flag, ISR size, under-replicated and offline partitions, worker rings', async () => {
    cluster = await startBroker({ cluster: 3, logLevel: 'silent', config: { metricsPort: 0 } })
    const ports = cluster.nodes.map((n) => n.metricsPort!)
    for (const port of ports) expect(port).toBeGreaterThan(0)
    const kafka = new Kafka({ clientId: 'cluster-metrics', brokers: cluster.brokers, logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    try {
      await admin.createTopics({ topics: [{ topic: 'rf3', numPartitions: 2, replicationFactor: 3 }, { topic: 'rf1', numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true })
      const producer = kafka.producer()
      await producer.connect()
      await producer.send({ topic: 'rf3', acks: -1, messages: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }] })
      await producer.disconnect()

      // Bounded polls: the ISR of a new partition fills after a follower fetch round.
      const scrapeAll = (): Promise<Scrape[]> => Promise.all(ports.map(scrape))
      const until = async (check: (all: Scrape[]) => boolean, what: string): Promise<Scrape[]> => {
        const deadline = Date.now() + 20_000
        for (;;) {
          const all = await scrapeAll()
          if (check(all)) return all
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${all.map((s) => s.text.split('\n').filter((l) => /isr_size|under_repl|offline|controller_active/.test(l)).join('\n')).join('\n---\n')}`)
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
      }
      const isrOf = (all: Scrape[], topic: string): number[] =>
        all.flatMap((s) => [...series(s, 'ringlog_partition_isr_size')].filter(([labels]) => labels.includes(`topic="${topic}"`)).map(([, v]) => v))
      const total = (all: Scrape[], name: string): number => all.reduce((n, s) => n + (series(s, name).get('') ?? 0), 0)

      const synced = await until((all) => isrOf(all, 'rf3').length === 2 && isrOf(all, 'rf3').every((n) => n === 3), 'rf3 fully in sync')
      expect(isrOf(synced, 'rf1')).toEqual([1, 1, 1])
      expect(total(synced, 'ringlog_controller_active')).toBe(1)
      const { controller } = await admin.describeCluster()
      expect(series(synced[controller! - 1], 'ringlog_controller_active').get('')).toBe(1)
      expect(total(synced, 'ringlog_under_replicated_partitions')).toBe(0)
      expect(total(synced, 'ringlog_offline_partitions')).toBe(0)
      for (const s of synced) {
        const capacity = series(s, 'ringlog_worker_ring_capacity_bytes')
        expect(capacity.size).toBeGreaterThanOrEqual(2)
        for (const v of capacity.values()) expect(v).toBeGreaterThan(0)
        expect(series(s, 'ringlog_worker_ring_used_bytes').size).toBe(capacity.size)
        expect(series(s, 'ringlog_worker_ring_full_writes_total').size).toBe(capacity.size / 2)
      }
      if (existsSync(PROMTOOL)) {
        const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: synced[0].text, encoding: 'utf8' })
        expect(check.stderr.split('\n').filter((l) => /error|invalid/i.test(l))).toEqual([])
      }

      // A broker other than the controller that holds an RF 1 partition goes away (SIGTERM).
      const metadata = await admin.fetchTopicMetadata({ topics: ['rf1'] })
      const victim = [1, 2, 3].find((id) => id !== controller && metadata.topics[0].partitions.some((p) => p.replicas[0] === id))!
      const heldByVictim = metadata.topics[0].partitions.filter((p) => p.replicas[0] === victim).length
      await cluster.stopBroker(victim)
      const live = ports.filter((_, i) => i !== victim - 1)
      const after = await (async () => {
        const deadline = Date.now() + 20_000
        for (;;) {
          const all = await Promise.all(live.map(scrape))
          if (total(all, 'ringlog_under_replicated_partitions') === 2 && total(all, 'ringlog_offline_partitions') === heldByVictim) return all
          if (Date.now() > deadline) throw new Error(`no under-replicated/offline change after stopping broker ${victim}`)
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
      })()
      expect(isrOf(after, 'rf3')).toEqual([2, 2])
      const controllerScrape = after[live.indexOf(ports[controller! - 1])]
      expect(series(controllerScrape, 'ringlog_offline_partitions').get('')).toBe(heldByVictim)
    } finally {
      await admin.disconnect()
    }
  }, 90_000)
})
