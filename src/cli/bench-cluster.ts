/**
 * `ringlog bench --cluster N`: the target is a private development cluster (cluster/dev-cluster.ts:
 * an etcd and N `ringlog serve --etcd` processes under a temp dir), started per scenario and
 * stopped after it. The load generator bootstraps from broker 1 and sends to each partition's
 * leader; the broker CPU column is the sum over the N broker processes (etcd not included).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { processCpuSeconds } from '../bench/process-cpu.js'
import type { BenchBroker } from '../bench/scenarios/bench-broker.js'
import type { FlushPolicy } from '../bench/scenario.js'
import { DevCluster } from '../cluster/dev-cluster.js'

function flushFlag(flush: FlushPolicy): string {
  return typeof flush === 'number' ? String(Math.max(1, Math.round(flush))) : flush
}

export async function startBenchCluster(options: { brokers: number; flush: FlushPolicy; dir?: string }): Promise<BenchBroker> {
  const dataDir = mkdtempSync(join(options.dir ?? tmpdir(), 'ringlog-bench-cluster-'))
  let cluster: DevCluster
  try {
    cluster = await DevCluster.start({ brokers: options.brokers, dataDir, clusterName: 'bench', serveArgs: ['--flush', flushFlag(options.flush)] })
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
  return {
    address: cluster.bootstrap[0],
    kind: 'child',
    cpuSeconds: () => {
      let total = 0
      for (const broker of cluster.brokers) {
        const seconds = broker.pid === undefined ? null : processCpuSeconds(broker.pid)
        if (seconds === null) return null
        total += seconds
      }
      return total
    },
    close: async () => {
      await cluster.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
