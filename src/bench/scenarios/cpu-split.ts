/**
 * Broker and client CPU of one repetition, when they can be told apart: the broker is a
 * child process (its /proc stat, all its threads) and the client is this process. Otherwise
 * (embedded, in-process or external broker) the scenario reports nothing and the runner
 * charges this process's CPU to the scenario's `cpuOwner`.
 */
import type { CpuSeconds } from '../scenario.js'
import type { BenchBroker } from './bench-broker.js'

export type CpuSplitStop = () => CpuSeconds | undefined

export function startCpuSplit(broker: BenchBroker | null, extraClientSeconds: () => number = () => 0): CpuSplitStop {
  const brokerBefore = broker?.cpuSeconds() ?? null
  const clientBefore = process.cpuUsage()
  const extraBefore = extraClientSeconds()
  return () => {
    const brokerAfter = broker?.cpuSeconds() ?? null
    if (brokerBefore === null || brokerAfter === null) return undefined
    const client = process.cpuUsage(clientBefore)
    return { broker: brokerAfter - brokerBefore, client: (client.user + client.system) / 1e6 + extraClientSeconds() - extraBefore }
  }
}
