/**
 * Issue 14, test 1 (short): a kafkajs group of three consumers processes 3,000 records of a
 * 6-partition RF 3 topic while its coordinator is killed with -9 once; nothing is skipped,
 * duplicates stay in the uncommitted window and the committed offsets end at the log end.
 * The 60,000-record, two-kill run is test/soak/group-failover.soak.test.ts.
 * Needs `npm run build` and /usr/bin/etcd.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runGroupFailover } from './fixtures/group-failover-scenario.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const hasEtcd = existsSync('/usr/bin/etcd')

describe.skipIf(!built || !hasEtcd)('cluster mode: a consumer group across kill -9 of its coordinator', () => {
  it('every record processed, commits never lost, committed offsets at the log end', async () => {
    const outcome = await runGroupFailover({ records: 3_000, kills: 1, timeoutMs: 90_000, log: (line) => console.log(line) })
    expect(outcome.killed).toHaveLength(1)
  }, 150_000)
})
