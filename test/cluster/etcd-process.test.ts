import { existsSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { ClusterMetadata } from '../../src/cluster/cluster-metadata.js'
import { type EtcdProcess, startEtcd } from '../../src/cluster/etcd-process.js'

describe('EtcdProcess', () => {
  let etcd: EtcdProcess | undefined

  afterAll(async () => {
    await etcd?.destroy()
  })

  it('starts a healthy private etcd, stops it by PID, and restarts it on the same data', async () => {
    etcd = await startEtcd()
    expect(etcd.endpoint).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(await etcd.healthy()).toBe(true)
    const firstPid = etcd.pid
    expect(firstPid).toBeGreaterThan(0)

    const metadata = new ClusterMetadata({ endpoints: etcd.endpoint, cluster: 'etcd-process' })
    await metadata.etcd.put('/ringlog/etcd-process/probe').value('kept').exec()
    metadata.close()

    await etcd.stop()
    expect(etcd.running).toBe(false)
    expect(await etcd.healthy()).toBe(false)
    expect(() => process.kill(firstPid as number, 0)).toThrow()

    await etcd.start()
    expect(etcd.pid).not.toBe(firstPid)
    const again = new ClusterMetadata({ endpoints: etcd.endpoint, cluster: 'etcd-process' })
    expect(await again.etcd.get('/ringlog/etcd-process/probe').string()).toBe('kept')
    again.close()
  })

  it('kill leaves the data dir; destroy removes the temporary one', async () => {
    if (!etcd) throw new Error('first test did not start etcd')
    await etcd.kill()
    expect(etcd.running).toBe(false)
    expect(existsSync(etcd.dataDir)).toBe(true)
    await etcd.destroy()
    expect(existsSync(etcd.dataDir)).toBe(false)
    etcd = undefined
  })

  it('reports why etcd would not start', async () => {
    await expect(startEtcd({ binary: '/nonexistent/etcd', startTimeoutMs: 2_000 })).rejects.toThrow(/etcd exited during start-up/)
  })
})
