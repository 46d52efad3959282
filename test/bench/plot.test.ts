import { describe, expect, it } from 'vitest'
import { renderBenchSvg } from '../../src/bench/plot.js'
import { buildReport } from '../../src/bench/report.js'
import { runScenario } from '../../src/bench/runner.js'
import { fileAppendScenario } from '../../src/bench/scenarios/file-append.js'

describe('renderBenchSvg', () => {
  it('draws throughput over time and the latency curve with axes, labels and a title', async () => {
    const run = await runScenario(fileAppendScenario('records=3000,flush=always'), { repetitions: 3, warmups: 0, withReference: true, progress: false, sampleIntervalMs: 5 })
    const svg = renderBenchSvg(buildReport([run]), { title: 'unit test plot' })
    expect(svg.startsWith('<?xml')).toBe(true)
    expect(svg).toContain('<svg xmlns="http://www.w3.org/2000/svg"')
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true)
    for (const label of ['unit test plot', 'records / s', 'measured time (s)', 'percentile', '99.9%', 'latency (ms', 'file-append durable (reference)']) {
      expect(svg).toContain(label)
    }
    expect(svg.match(/<polyline /g)?.length ?? 0).toBeGreaterThanOrEqual(2)
    expect(svg.match(/<text /g)?.length).toBe(svg.match(/<\/text>/g)?.length)
    expect(svg).not.toMatch(/NaN|Infinity|undefined/)
  })

  it('escapes text', async () => {
    const run = await runScenario(fileAppendScenario('records=500', { name: 'a<b & "c"' }), { repetitions: 1, warmups: 0, progress: false })
    const svg = renderBenchSvg(buildReport([run]))
    expect(svg).toContain('a&lt;b &amp; &quot;c&quot;')
    expect(svg).not.toContain('a<b')
  })
})
