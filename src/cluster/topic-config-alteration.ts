/**
 * AlterConfigs / IncrementalAlterConfigs of a topic in cluster mode: the merged overrides are
 * written to the topic's record in etcd by compare-and-swap on its mod revision (re-read and
 * merged again on a conflict), and every broker applies them from the topics watch, as Kafka's
 * brokers applied /config/topics changes. `merge` gets the current overrides and returns the
 * new set, or throws (its error is the answer).
 */
import { RinglogError, UnknownTopicOrPartitionError } from '../errors.js'
import { ErrorCode } from '../protocol/error-codes.js'
import type { ClusterMetadata } from './cluster-metadata.js'

const MAX_ATTEMPTS = 5

export async function alterClusterTopicConfigs(
  metadata: ClusterMetadata,
  name: string,
  merge: (current: Readonly<Record<string, string>>) => Record<string, string>,
  validateOnly: boolean,
): Promise<Record<string, string>> {
  for (let attempt = 1; ; attempt++) {
    const read = await metadata.readTopic(name)
    if (!read) throw new UnknownTopicOrPartitionError(`unknown topic "${name}"`)
    const next = merge(read.record.configs)
    if (validateOnly) return next
    if (await metadata.casTopicConfigs(name, read, next)) return next
    if (attempt >= MAX_ATTEMPTS) throw new RinglogError(ErrorCode.REQUEST_TIMED_OUT, `topic "${name}" kept changing while its configs were altered; retry`)
  }
}
