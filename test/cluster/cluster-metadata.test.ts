import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BrokerRegistration } from '../../src/cluster/broker-registration.js'
import { ClusterMetadata, FencedWriteError } from '../../src/cluster/cluster-metadata.js'
import { controlledShutdown } from '../../src/cluster/controlled-shutdown.js'
import { type EtcdProcess, startEtcd } from '../../src/cluster/etcd-process.js'
import { ClusterProducerIdAllocator } from '../../src/cluster/producer-id-blocks.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { testSeed, rng, waitForEtcd } from './fixtures/etcd-wait.js'

const run = promisify(execFile)

describe('ClusterMetadata', () => {
  let etcd: EtcdProcess
  const clients: ClusterMetadata[] = []
  const connect = (cluster: string): ClusterMetadata => {
    const client = new ClusterMetadata({ endpoints: etcd.endpoint, cluster })
    clients.push(client)
    return client
  }
  const state = (leader: number, isr: number[]) => ({ leader, leaderEpoch: 0, isr, version: 0 })

  beforeAll(async () => {
    etcd = await startEtcd()
  })
  afterAll(async () => {
    for (const c of clients) c.close()
    await etcd?.destroy()
  })

  it('creates a topic and its partition states in one transaction, refusing a second create', async () => {
    const metadata = connect('topics')
    const topicId = await metadata.createTopic('orders', { replicas: [[1, 2], [2, 1]], configs: { 'min.insync.replicas': '2' } }, [state(1, [1, 2]), state(2, [2, 1])])
    expect(Buffer.from(topicId, 'base64url')).toHaveLength(16)
    expect(await metadata.getTopic('orders')).toEqual({ topicId, replicas: [[1, 2], [2, 1]], configs: { 'min.insync.replicas': '2' } })
    const partitions = await metadata.listPartitions('orders')
    expect(partitions.map((p) => [p.partition, p.state])).toEqual([[0, state(1, [1, 2])], [1, state(2, [2, 1])]])

    const again = metadata.createTopic('orders', { replicas: [[3]] }, [state(3, [3])])
    await expect(again).rejects.toMatchObject({ code: ErrorCode.TOPIC_ALREADY_EXISTS })
    expect((await metadata.getTopic('orders'))?.topicId).toBe(topicId) // untouched
    expect(await metadata.listPartitions('orders')).toHaveLength(2)
  })

  it('rejects bad topics with Kafka codes and nothing written', async () => {
    const metadata = connect('bad-topics')
    await expect(metadata.createTopic('a/b', { replicas: [[1]] }, [state(1, [1])])).rejects.toMatchObject({ code: ErrorCode.INVALID_TOPIC_EXCEPTION })
    await expect(metadata.createTopic('..', { replicas: [[1]] }, [state(1, [1])])).rejects.toMatchObject({ code: ErrorCode.INVALID_TOPIC_EXCEPTION })
    await expect(metadata.createTopic('t', { replicas: [] }, [])).rejects.toMatchObject({ code: ErrorCode.INVALID_PARTITIONS })
    const many = Array.from({ length: 128 }, () => [1])
    await expect(metadata.createTopic('wide', { replicas: many }, many.map(() => state(1, [1])))).rejects.toMatchObject({ code: ErrorCode.INVALID_PARTITIONS })
    expect((await metadata.listTopics()).size).toBe(0)
    expect(await metadata.listPartitions()).toHaveLength(0)
    await expect(metadata.requireTopic('nope')).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })
  })

  it('watches topics being created and deleted; delete removes every partition state', async () => {
    const metadata = connect('watch-topics')
    const events: string[] = []
    const watch = await metadata.watchTopics((_topics, kind, name) => { events.push(`${kind}:${name ?? ''}`) })
    await metadata.createTopic('a', { replicas: [[1], [1], [1]] }, [state(1, [1]), state(1, [1]), state(1, [1])])
    expect(await metadata.deleteTopic('a')).toBe(true)
    expect(await metadata.deleteTopic('a')).toBe(false)
    await waitForEtcd(metadata, metadata.layout.prefix, async () => (events.includes('delete:a') ? true : undefined), 'the delete event')
    await watch.close()
    expect(events).toEqual(['initial:', 'put:a', 'delete:a'])
    expect(await metadata.listPartitions('a')).toEqual([])
  })

  it('changes partition state only by compare-and-swap: the second writer at the same revision gets a conflict', async () => {
    const metadata = connect('cas')
    const other = connect('cas')
    await metadata.createTopic('t', { replicas: [[1, 2, 3]] }, [state(1, [1, 2, 3])])
    const seenByA = await metadata.readPartition('t', 0)
    const seenByB = await other.readPartition('t', 0)
    if (!seenByA || !seenByB) throw new Error('partition state missing')
    expect(seenByA.modRevision).toBe(seenByB.modRevision)

    const a = await metadata.casPartition(seenByA, { leader: 1, leaderEpoch: 0, isr: [1, 2] })
    expect(a.ok).toBe(true)
    const b = await other.casPartition(seenByB, { leader: 2, leaderEpoch: 1, isr: [2, 3] })
    expect(b).toMatchObject({ ok: false, reason: 'conflict' })
    if (b.ok || b.reason !== 'conflict') throw new Error('expected a conflict')
    expect(b.current?.state).toEqual({ leader: 1, leaderEpoch: 0, isr: [1, 2], version: 1 })

    // The loser re-reads and decides again on the current state.
    const retry = await other.casPartition(b.current!, { leader: 2, leaderEpoch: 1, isr: [2] })
    expect(retry.ok).toBe(true)
    expect((await metadata.readPartition('t', 0))?.state).toEqual({ leader: 2, leaderEpoch: 1, isr: [2], version: 2 })

    const current = await metadata.readPartition('t', 0)
    await expect(metadata.casPartition(current!, { leader: 3, leaderEpoch: 2, isr: [2] })).rejects.toThrow(/not in the ISR/)
  })

  it('fences writes on an election key: once the key is gone or re-created, the old holder cannot write', async () => {
    const metadata = connect('fence')
    const key = metadata.layout.controller
    const put = await metadata.etcd.put(key).value(JSON.stringify({ brokerId: 1 })).exec()
    const fence = { key, createRevision: put.header.revision }
    await metadata.createTopic('f', { replicas: [[1, 2]] }, [state(1, [1, 2])], fence)
    const before = await metadata.readPartition('f', 0)
    expect(await metadata.casPartition(before!, { leader: 1, leaderEpoch: 0, isr: [1] }, fence)).toMatchObject({ ok: true })

    await metadata.etcd.delete().key(key).exec()
    await metadata.etcd.put(key).value(JSON.stringify({ brokerId: 2 })).exec() // a new controller
    const now = await metadata.readPartition('f', 0)
    expect(await metadata.casPartition(now!, { leader: 2, leaderEpoch: 1, isr: [2] }, fence)).toEqual({ ok: false, reason: 'fenced' })
    expect((await metadata.readPartition('f', 0))?.state.leader).toBe(1)
    await expect(metadata.createTopic('g', { replicas: [[1]] }, [state(1, [1])], fence)).rejects.toBeInstanceOf(FencedWriteError)
    await expect(metadata.deleteTopic('f', fence)).rejects.toBeInstanceOf(FencedWriteError)
    expect(await metadata.getTopic('f')).toBeDefined()
  })

  it('watches partition state changes', async () => {
    const metadata = connect('watch-partitions')
    await metadata.createTopic('w', { replicas: [[1, 2]] }, [state(1, [1, 2])])
    const seen: string[] = []
    const watch = await metadata.watchPartitions((states, kind, key) => {
      const entry = key === undefined ? undefined : states.get(key)
      seen.push(kind === 'initial' ? `initial:${[...states.keys()]}` : `${kind}:${key}:${entry ? entry.value.isr.join(',') : '-'}`)
    })
    const current = await metadata.readPartition('w', 0)
    expect((await metadata.casPartition(current!, { leader: 1, leaderEpoch: 0, isr: [1] })).ok).toBe(true)
    await metadata.deleteTopic('w')
    await waitForEtcd(metadata, metadata.layout.prefix, async () => (seen.some((e) => e.startsWith('delete:')) ? true : undefined), 'the delete event')
    await watch.close()
    expect(seen).toEqual(['initial:w/0', 'put:w/0:1', 'delete:w/0:-'])
  })

  it('a controlled-shutdown request without a controller times out, and goes with the broker lease', async () => {
    const metadata = connect('no-controller')
    const broker = await BrokerRegistration.register(metadata, 1, { host: '127.0.0.1', port: 1 }, { ttlSeconds: 2 })
    expect(await controlledShutdown(metadata, broker, 300)).toEqual({ done: false, remaining: [] })
    expect(await metadata.readShutdown(1)).toMatchObject({ state: 'requested' })
    await broker.close()
    expect(await metadata.readShutdown(1)).toBeUndefined()
  })

  it('stores JSON that etcdctl reads as-is', async () => {
    const metadata = connect('readable')
    await metadata.createTopic('r', { replicas: [[4, 5]] }, [state(4, [4, 5])])
    const { stdout } = await run('/usr/bin/etcdctl', ['--endpoints', etcd.endpoint, 'get', '--print-value-only', metadata.layout.partition('r', 0)], {
      env: { ...process.env, ETCDCTL_API: '3' },
    })
    expect(JSON.parse(stdout)).toEqual(state(4, [4, 5]))
  })

  it('two brokers allocating 10,000 producer ids concurrently never get the same id (issue 14, test 4)', async () => {
    const seed = testSeed('producer-ids')
    const random = rng(seed)
    const brokerA = new ClusterProducerIdAllocator(connect('pids'), 10 + Math.floor(random() * 91))
    const brokerB = new ClusterProducerIdAllocator(connect('pids'), 10 + Math.floor(random() * 91))
    const take = async (allocator: ClusterProducerIdAllocator, count: number): Promise<number[]> => {
      const ids: number[] = []
      // Bursts of concurrent InitProducerId calls, as a busy broker sees them.
      while (ids.length < count) {
        const burst = Math.min(count - ids.length, 1 + Math.floor(random() * 200))
        ids.push(...(await Promise.all(Array.from({ length: burst }, () => allocator.allocate()))))
      }
      return ids
    }
    const [a, b] = await Promise.all([take(brokerA, 10_000), take(brokerB, 10_000)])
    const all = new Set([...a, ...b])
    expect(all.size, `seed ${seed}`).toBe(20_000)
    expect(new Set(a).size).toBe(10_000)
    expect(Math.min(...all)).toBeGreaterThanOrEqual(0)
    // A third allocator starts past every id handed out.
    const block = await connect('pids').allocateProducerIdBlock(10)
    expect(block.firstProducerId).toBeGreaterThan(Math.max(...all))
  })
})
