import { describe, expect, it } from 'vitest'
import { createLatencyHistogram, serializeHistogram } from '../../src/bench/histogram.js'
import { renderBenchSvg, wrapText } from '../../src/bench/plot.js'
import { buildReport, type BenchReport } from '../../src/bench/report.js'
import { runScenario, type RepetitionResult } from '../../src/bench/runner.js'
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

/** A report of one scenario whose repetitions have exactly these throughput samples. */
function reportWith(samples: ReadonlyArray<ReadonlyArray<[tMs: number, recordsPerSec: number]>>): BenchReport {
  const repetitions: RepetitionResult[] = samples.map((rep) => ({
    records: 1, bytes: 1, durationNs: rep[rep.length - 1][0] * 1e6, cpu: { broker: 0, client: 0 },
    latency: serializeHistogram(createLatencyHistogram()),
    throughput: rep.map(([tMs, recordsPerSec]) => ({ tMs, recordsPerSec })),
  }))
  return buildReport([{ name: 'synthetic', params: fileAppendScenario().params, repetitions }])
}

/** How many throughput samples were drawn: one marker each (the latency panel is empty here). */
function markers(svg: string): number {
  return svg.match(/<circle /g)?.length ?? 0
}

describe('renderBenchSvg throughput samples', () => {
  const median = 1_180_000
  const full = (n: number): Array<[number, number]> => Array.from({ length: n }, (_, i) => [(i + 1) * 1000, median + i * 1000])

  it('does not draw a repetition\'s last window when it is shorter than the sampling interval', () => {
    // The case from the issue: a 0.13 ms tail window read as 14.9 M rec/s.
    const svg = renderBenchSvg(reportWith([[...full(3), [3000.13, 14_900_000]], [...full(2), [3000, 1_150_000]]]))
    expect(markers(svg)).toBe(3 + 3) // a last window of exactly the interval is a full one
    // The y axis is scaled to the drawn samples (about 1.2 M), not to 14.9 M.
    const millions = [...svg.matchAll(/>([\d.]+)M</g)].map((m) => Number(m[1]))
    expect(Math.max(...millions)).toBeLessThan(2)
  })

  it('takes the interval from the caller, or infers it from the full windows', () => {
    const report = reportWith([[[5, 100], [10, 110], [12, 500]]])
    expect(markers(renderBenchSvg(report))).toBe(2) // inferred 5 ms: the 2 ms tail goes
    expect(markers(renderBenchSvg(report, { sampleIntervalMs: 2 }))).toBe(3)
  })

  it('keeps a repetition whose only window is its whole run (its mean rate, not a tail)', () => {
    expect(markers(renderBenchSvg(reportWith([[[130, 5000]], [[120, 5100]]])))).toBe(2)
  })
})

describe('renderBenchSvg title', () => {
  it('wraps a long title into lines that fit the width and moves the panels down', () => {
    const report = reportWith([full3()])
    const title = `ringlog bench — ${Array.from({ length: 12 }, (_, i) => `produce-scenario-${i}`).join(', ')}`
    const short = renderBenchSvg(report, { title: 'short' })
    const long = renderBenchSvg(report, { title, width: 1000 })
    const titleLines = [...long.matchAll(/<text [^>]*font-size="18" font-weight="bold">([^<]*)<\/text>/g)].map((m) => m[1])
    expect(titleLines.length).toBeGreaterThan(1)
    expect(titleLines.join(' ').replace('&#8212;', '—')).toBe(title)
    for (const line of titleLines) expect(line.length).toBeLessThanOrEqual(Math.floor((1000 - 40) / (18 * 0.6)))
    const panelTop = (svg: string): number => Number(/<rect x="90" y="([\d.]+)"/.exec(svg)![1])
    expect(panelTop(long)).toBe(panelTop(short) + (titleLines.length - 1) * 22)
  })

  it('wrapText breaks at spaces and splits a word longer than a line', () => {
    expect(wrapText('aa bb cc', 5)).toEqual(['aa bb', 'cc'])
    expect(wrapText('abcdefghij k', 4)).toEqual(['abcd', 'efgh', 'ij k'])
    expect(wrapText('', 10)).toEqual([''])
  })
})

function full3(): Array<[number, number]> {
  return [[1000, 10], [2000, 11], [3000, 12]]
}
