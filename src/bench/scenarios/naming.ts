/** Scenario names that say what differs between rows of one table: mode, acks, flush, compression, size, partitions, client. */
import { DEFAULT_BENCH_PARAMS, type BenchParams } from '../scenario.js'

export function describeParams(params: Readonly<BenchParams>, parts: { acks?: boolean; flush?: boolean; client?: string } = {}): string {
  const out: string[] = [params.mode]
  if (parts.acks !== false) out.push(`acks=${params.acks === -1 ? 'all' : params.acks}`)
  if (parts.flush !== false) out.push(`flush=${typeof params.flush === 'number' ? `${params.flush}ms` : params.flush}`)
  if (params.compression !== 'none') out.push(params.compression)
  if (params.recordSize !== 100) out.push(`${params.recordSize}B`)
  if (params.partitions !== 1) out.push(`p=${params.partitions}`)
  if (params.mode === 'embedded' && params.inFlight !== DEFAULT_BENCH_PARAMS.inFlight) out.push(`inflight=${params.inFlight}`)
  if (params.cluster > 0) out.push(`cluster=${params.cluster}`)
  if (params.replicationFactor !== 1) out.push(`rf=${params.replicationFactor}`)
  if (params.rate !== null) out.push(`rate=${params.rate}`)
  if (parts.client && parts.client !== 'loadgen') out.push(parts.client)
  return out.join(' ')
}

let topicSerial = 0

/** A topic name unique within this process (scenarios of one suite never share a topic). */
export function benchTopicName(kind: string): string {
  return `bench-${kind}-${process.pid}-${++topicSerial}`
}
