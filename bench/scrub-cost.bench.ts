/**
 * What the background scrubber costs produce throughput at its default read rate (20 MB/s): a
 * same-run A/B (bench/serve-ab.ts) of a broker with scrubbing off against one that starts a
 * new scrub pass every second, so it is always re-reading closed segments while the load runs
 * (the worst case; the default starts one pass a day). Both use 8 MiB segments and take the
 * same warm-up load first, so each has closed segments to scrub from the first measured run.
 * The scrub-on broker also serves metrics (polled once a second for the bytes scrubbed), which
 * bench/metrics-cost.bench.ts found costs nothing measurable.
 *
 *   npm run build && npx tsx bench/scrub-cost.bench.ts [--runs 6] [--records 300000] [--rate-mb 20]
 */
import { parseArgs } from 'node:util'
import { positiveInteger } from './bench-common.js'
import { runAb } from './serve-ab.js'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '6' }, records: { type: 'string', default: '300000' }, 'rate-mb': { type: 'string', default: '20' } } })
const records = positiveInteger('--records', values.records)
let scannedBytes = 0
const segments = ['--segment-bytes', String(8 * 1024 * 1024)]
await runAb('scrub-cost',
  { label: 'scrub-off', flags: [...segments, '--scrub-interval-ms', '0'] },
  {
    label: 'scrub-on',
    flags: [...segments, '--scrub-interval-ms', '1000', '--scrub-rate-mb', String(positiveInteger('--rate-mb', values['rate-mb'])), '--metrics-port', '0'],
    // Reads the scrubber's own counter, so the report shows it was really scrubbing.
    companion: (broker) => {
      const poll = setInterval(() => {
        fetch(`http://127.0.0.1:${broker.metricsPort}/metrics`).then((r) => r.text()).then((text) => {
          scannedBytes = [...text.matchAll(/^ringlog_scrub_scanned_bytes_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0)
        }, () => undefined)
      }, 1000)
      return () => clearInterval(poll)
    },
  },
  { runs: positiveInteger('--runs', values.runs), records, warmupRecords: records })
console.log(`the scrubber read ${(scannedBytes / 1e6).toFixed(0)} MB in all while the scrub-on broker ran`)
