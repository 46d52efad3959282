/**
 * What the authorizer adds to each Produce request: the request's access object plus WRITE on
 * its topic, with 1,000 ACLs loaded (950 literal over 50 principals, 50 prefixed), against the
 * unchecked access of `--authorizer off`, and against crc32c of one 16 KiB batch, the least work
 * the broker does for a 16 KiB produce request anyway. The budget is 3% of produce
 * throughput: the ratio "check / crc32c 16KiB" bounds that share from above.
 * Run: npx tsx bench/micro/authorizer.bench.ts [--runs 5] [--json-only]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { requestAccess } from '../../src/broker/request-authorization.js'
import { crc32c } from '../../src/protocol/crc32c.js'
import { AclOperation, AclPermission, PatternType, ResourceType, type AclBinding } from '../../src/security/acl.js'
import { AclStore } from '../../src/security/acl-store.js'
import { Authorizer } from '../../src/security/authorizer.js'
import { parseMicroArgs, printReport, ratio, runSuites } from './tinybench-runs.js'

const PRODUCE = 0
const { runs, timeMs, jsonOnly } = parseMicroArgs()
const dir = mkdtempSync(join(tmpdir(), 'ringlog-authz-bench-'))
const store = AclStore.open(dir)
const bindings: AclBinding[] = []
for (let i = 0; i < 950; i++) {
  bindings.push({ resourceType: ResourceType.TOPIC, resourceName: `topic-${i}`, patternType: PatternType.LITERAL, principal: `User:u${i % 50}`, host: '*', operation: AclOperation.WRITE, permission: AclPermission.ALLOW })
}
for (let i = 0; i < 50; i++) {
  bindings.push({ resourceType: ResourceType.TOPIC, resourceName: `pre-${i}-`, patternType: PatternType.PREFIXED, principal: `User:u${i}`, host: '*', operation: AclOperation.READ, permission: AclPermission.ALLOW })
}
store.add(bindings)
const authorizer = new Authorizer(store, { superUsers: ['User:admin'], allowEveryoneIfNoAclFound: false })
const batch = Buffer.alloc(16 * 1024, 7)
let sink = 0

const tasks = [
  { name: 'produce check, authorizer off', fn: () => { sink += requestAccess(undefined, 'User:u7', '127.0.0.1', PRODUCE).topic('topic-7') ? 1 : 0 } },
  { name: 'produce check, 1000 ACLs', fn: () => { sink += requestAccess(authorizer, 'User:u7', '127.0.0.1', PRODUCE).topic('topic-7') ? 1 : 0 } },
  { name: 'produce check, 1000 ACLs, denied', fn: () => { sink += requestAccess(authorizer, 'User:u8', '127.0.0.1', PRODUCE).topic('topic-7') ? 1 : 0 } },
  { name: 'crc32c 16KiB (baseline)', fn: () => { sink ^= crc32c(batch) } },
]

const suite = await runSuites({ runs, timeMs, jsonOnly, register: (bench) => { for (const t of tasks) bench.add(t.name, t.fn) } })
rmSync(dir, { recursive: true, force: true })
const results = Object.fromEntries(tasks.map((t) => [t.name, suite.medians[t.name]]))
// ops/s of the crc over ops/s of the check = the check's time as a share of the crc's.
const ratios = {
  'check time / crc32c 16KiB time': ratio(suite, 'crc32c 16KiB (baseline)', 'produce check, 1000 ACLs'),
  'check time / unchecked time': ratio(suite, 'produce check, authorizer off', 'produce check, 1000 ACLs'),
}
printReport({
  jsonOnly,
  title: `Authorizer, median of ${runs} run(s), ${timeMs} ms per task; ${store.size} ACLs`,
  header: ['task', 'ops/s', 'p50 µs', 'p99 µs'],
  rows: Object.entries(results).map(([name, f]) => [name, String(Math.round(f.opsPerSec)), f.p50Us.toFixed(2), f.p99Us.toFixed(2)]),
  ratios,
  report: { bench: 'authorizer', node: process.version, runs, timeMsPerTask: timeMs, acls: store.size, note: 'medians over runs; shared 2-core machine, ratios are from the same run', results, ratios },
})
if (sink === 0.5) console.log('')
