/**
 * What metrics cost produce throughput: a same-run A/B (bench/serve-ab.ts) of a broker without
 * metrics against one with --metrics-port and a scraper reading /metrics every second (as
 * Prometheus would).
 *
 *   npm run build && npx tsx bench/metrics-cost.bench.ts [--runs 6] [--records 300000]
 */
import { parseArgs } from 'node:util'
import { positiveInteger } from './bench-common.js'
import { runAb } from './serve-ab.js'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '6' }, records: { type: 'string', default: '300000' } } })
let scrapes = 0
await runAb('metrics-cost', { label: 'off', flags: [] }, {
  label: 'on',
  flags: ['--metrics-port', '0'],
  companion: (broker) => {
    const scraper = setInterval(() => {
      fetch(`http://127.0.0.1:${broker.metricsPort}/metrics`).then((r) => r.text()).then(() => { scrapes++ }, () => undefined)
    }, 1000)
    return () => clearInterval(scraper)
  },
}, { runs: positiveInteger('--runs', values.runs), records: positiveInteger('--records', values.records) })
console.log(`${scrapes} scrapes`)
