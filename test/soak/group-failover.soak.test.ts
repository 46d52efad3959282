/**
 * Issue 14, test 1 (full): a kafkajs group of three consumers processes 60,000 records of a
 * 6-partition RF 3 topic while its coordinator is killed with -9 twice (the killed broker
 * comes back before the next kill). RINGLOG_GROUP_RECORDS and RINGLOG_GROUP_KILLS change the
 * sizes. Needs `npm run build` and /usr/bin/etcd.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runGroupFailover } from '../cluster/fixtures/group-failover-scenario.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')
const records = Number(process.env.RINGLOG_GROUP_RECORDS ?? '60000')
const kills = Number(process.env.RINGLOG_GROUP_KILLS ?? '2')

describe.skipIf(!built || !hasEtcd)('soak: a consumer group across kill -9 of its coordinator', () => {
  it(`${records} records, ${kills} coordinator kills: every record processed, commits never lost`, async () => {
    const outcome = await runGroupFailover({ records, kills, timeoutMs: 20 * 60_000, log: (line) => console.log(line) })
    console.log(`processed ${outcome.processed} (${outcome.duplicates} duplicates), killed ${outcome.killed.join(', ')}`)
    expect(outcome.killed).toHaveLength(kills)
  }, 30 * 60_000)
})
