/**
 * The log cleaner's metrics (docs/metrics.md) through the embedded `log.metrics()` registry: a
 * compacted topic whose segments roll by time (segment.ms) gets a pass, and the per-partition
 * counters show it, with the records it removed; the embedded producer's keyless records are
 * refused on it (INVALID_RECORD).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { open, type Ringlog } from '../../src/index.js'
import { removeDir, tempDataDir } from '../client/helpers.js'

/** Value of the sample `name{labels}` in exposition text. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe('log cleaner metrics', () => {
  let log: Ringlog | undefined
  let dir: string | undefined
  afterEach(async () => {
    await log?.close()
    if (dir) removeDir(dir)
    log = undefined
    dir = undefined
  })

  it('counts passes, bytes cleaned and removed, and records removed per partition', async () => {
    dir = tempDataDir('ringlog-cleaner-metrics-')
    log = await open({ dataDir: dir, flush: 'never' })
    await log.admin().createTopics({ topics: [{ topic: 'c', numPartitions: 1, configEntries: [
      { name: 'cleanup.policy', value: 'compact' }, { name: 'segment.ms', value: '100' }, { name: 'min.cleanable.dirty.ratio', value: '0.01' },
    ] }] })
    const producer = log.producer({ acks: -1 })
    await producer.connect()
    await expect(producer.send({ topic: 'c', messages: [{ value: 'no key' }] })).rejects.toMatchObject({ code: 87 })
    for (let round = 0; round < 6; round++) {
      await producer.send({ topic: 'c', messages: Array.from({ length: 50 }, (_, k) => ({ key: `k${k}`, value: `v${round}` })) })
      await new Promise((resolve) => setTimeout(resolve, 150)) // the next append rolls the segment
    }
    await producer.disconnect()
    const series = (name: string): string => `${name}{topic="c",partition="0"}`
    let text = ''
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      text = await log.metrics().metrics()
      if ((sample(text, series('ringlog_cleaner_removed_records_total')) ?? 0) >= 200) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(sample(text, series('ringlog_cleaner_passes_total'))).toBeGreaterThanOrEqual(1)
    expect(sample(text, series('ringlog_cleaner_cleaned_bytes_total'))).toBeGreaterThan(0)
    expect(sample(text, series('ringlog_cleaner_removed_bytes_total'))).toBeGreaterThan(0)
    // 5 of the 6 rounds are superseded once the 5th segment is cleaned (the 6th is the active one).
    expect(sample(text, series('ringlog_cleaner_removed_records_total'))).toBeGreaterThanOrEqual(200)
  })
})
