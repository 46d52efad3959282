/**
 * Preferred replica election on demand (what `kafka-leader-election --election-type preferred`
 * asks for): file a request in etcd, and wait (bounded) until the controller has handled it and
 * deleted it, as Kafka's /admin/preferred_replica_election znode worked. The partitions' new
 * state is then in etcd; a partition whose preferred replica is dead, out of the ISR or shutting
 * down keeps its leader.
 */
import type { ClusterMetadata } from './cluster-metadata.js'

export type PreferredElectionOutcome = 'done' | 'in-progress' | 'timed-out'

export async function preferredReplicaElection(
  metadata: ClusterMetadata,
  partitions: { topic: string; partition: number }[] | null,
  timeoutMs: number,
): Promise<PreferredElectionOutcome> {
  const key = metadata.layout.preferredElection
  if (!(await metadata.requestPreferredElection(partitions))) return 'in-progress'
  const watcher = await metadata.etcd.watch().key(key).create()
  let timer: NodeJS.Timeout | undefined
  try {
    const handled = new Promise<PreferredElectionOutcome>((resolve, reject) => {
      watcher.once('delete', () => resolve('done'))
      watcher.on('error', reject)
      // The controller may have handled it before the watch started.
      metadata.etcd.get(key).string().then((text) => { if (text === null) resolve('done') }, reject)
    })
    const timedOut = new Promise<PreferredElectionOutcome>((resolve) => { timer = setTimeout(() => resolve('timed-out'), timeoutMs) })
    return await Promise.race([handled, timedOut])
  } finally {
    clearTimeout(timer)
    await watcher.cancel()
  }
}
