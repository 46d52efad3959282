/**
 * The broker's side of controlled shutdown (Kafka's ControlledShutdown request, through etcd):
 * write `shutdown/<id>` on the broker's lease, then wait (bounded) for the controller to mark it
 * done after moving the broker's leaderships to other ISR members. The broker exits either way;
 * a timeout only means clients see a lease-timeout failover instead of a handoff.
 */
import type { BrokerRegistration } from './broker-registration.js'
import type { ClusterMetadata } from './cluster-metadata.js'
import { parseShutdownRequest } from './metadata-layout.js'

export interface ControlledShutdownResult {
  /** The controller answered in time. */
  done: boolean
  /** Partitions it led that could not be moved (no other live ISR member), as `topic-partition`. */
  remaining: string[]
}

export async function controlledShutdown(metadata: ClusterMetadata, registration: BrokerRegistration, timeoutMs: number): Promise<ControlledShutdownResult> {
  const key = metadata.layout.shutdown(registration.brokerId)
  await metadata.requestShutdown(registration.brokerId, registration.leaseId)
  const watcher = await metadata.etcd.watch().key(key).create()
  let timer: NodeJS.Timeout | undefined
  try {
    const answered = new Promise<ControlledShutdownResult>((resolve, reject) => {
      const check = (text: string): void => {
        try {
          const request = parseShutdownRequest(key, text)
          if (request.state === 'done') resolve({ done: true, remaining: request.remaining ?? [] })
        } catch (error) {
          reject(error)
        }
      }
      watcher.on('put', (kv) => check(kv.value.toString('utf8')))
      watcher.on('error', reject)
      // The controller may have answered before the watch started.
      metadata.etcd.get(key).string().then((text) => { if (text !== null) check(text) }, reject)
    })
    const timedOut = new Promise<ControlledShutdownResult>((resolve) => {
      timer = setTimeout(() => resolve({ done: false, remaining: [] }), timeoutMs)
    })
    return await Promise.race([answered, timedOut])
  } finally {
    clearTimeout(timer)
    await watcher.cancel()
  }
}
