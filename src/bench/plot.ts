/**
 * A self-contained SVG of a report (hand-written, no dependency): throughput over time (the
 * per-window samples of every repetition, back to back) and the latency distribution as a
 * percentile curve on a log-ish axis (x = log10(1 / (1 - q)): 90%, 99%, 99.9% ... evenly
 * spaced), so tail behaviour is visible. Axes, units, legend and title are in the picture.
 */
import { mergeSerializedHistograms, type SerializedHistogram } from './histogram.js'
import type { BenchReport } from './report.js'
import type { RepetitionResult, ThroughputSample } from './runner.js'

export interface PlotOptions {
  title?: string
  width?: number
  height?: number
  /**
   * The runner's sampling interval. A repetition's last window ends with the run, so it can be far
   * shorter (a 0.13 ms tail once read 14.9 M rec/s against a 1.18 M median): shorter than this, it is
   * not drawn. Default: the shortest full window in the report (windows close at the interval), or
   * the runner's default of 1000 ms when no repetition has one.
   */
  sampleIntervalMs?: number
}

interface Series {
  label: string
  color: string
  points: Array<[number, number]>
  /** x positions where a new repetition starts (throughput panel only). */
  breaks?: number[]
}

interface Box {
  x: number
  y: number
  w: number
  h: number
}

interface Axis {
  min: number
  max: number
  log: boolean
  ticks: Array<{ value: number; label: string }>
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf']
const LAST_PERCENTILE = 99.999
const RUNNER_DEFAULT_INTERVAL_MS = 1000
const TITLE_FONT_PX = 18
const TITLE_LINE_PX = 22
/** Average advance of a bold Helvetica character, as a share of the font size (to wrap titles). */
const CHAR_WIDTH_EM = 0.6

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c)
}

function niceStep(range: number, targetTicks: number): number {
  const raw = range / Math.max(1, targetTicks)
  const power = 10 ** Math.floor(Math.log10(raw))
  const fraction = raw / power
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
  return nice * power
}

function compactNumber(value: number): string {
  const abs = Math.abs(value)
  if (abs >= 1e9) return `${+(value / 1e9).toPrecision(3)}G`
  if (abs >= 1e6) return `${+(value / 1e6).toPrecision(3)}M`
  if (abs >= 1e3) return `${+(value / 1e3).toPrecision(3)}k`
  return `${+value.toPrecision(3)}`
}

function linearAxis(min: number, max: number): Axis {
  if (max <= min) max = min + 1
  const step = niceStep(max - min, 5)
  const lo = Math.floor(min / step) * step
  const hi = Math.ceil(max / step) * step
  const ticks: Axis['ticks'] = []
  for (let v = lo; v <= hi + step / 2; v += step) ticks.push({ value: v, label: compactNumber(v) })
  return { min: lo, max: hi, log: false, ticks }
}

function logAxis(min: number, max: number): Axis {
  const lo = Math.floor(Math.log10(min))
  const hi = Math.ceil(Math.log10(max))
  const ticks: Axis['ticks'] = []
  for (let e = lo; e <= hi; e++) {
    for (const m of hi - lo <= 3 ? [1, 2, 5] : [1]) {
      const v = m * 10 ** e
      if (v >= 10 ** lo && v <= 10 ** hi) ticks.push({ value: v, label: compactNumber(v) })
    }
  }
  return { min: 10 ** lo, max: 10 ** hi, log: true, ticks }
}

function project(axis: Axis, value: number, from: number, length: number): number {
  const t = axis.log ? (Math.log10(value) - Math.log10(axis.min)) / (Math.log10(axis.max) - Math.log10(axis.min)) : (value - axis.min) / (axis.max - axis.min)
  return from + t * length
}

/** x of the percentile axis: log10(1 / (1 - q)), so 0 -> 0, 90 -> 1, 99 -> 2, 99.9 -> 3 ... */
function percentileX(q: number): number {
  return Math.log10(100 / (100 - Math.min(q, LAST_PERCENTILE)))
}

function percentileCurve(histogram: SerializedHistogram): Array<[number, number]> {
  const points: Array<[number, number]> = []
  let cumulative = 0
  let previousQ = 0
  for (const [value, n] of histogram.buckets) {
    // Step curve: the value holds from the previous cumulative percentile up to its own.
    points.push([percentileX(previousQ), value / 1e6])
    cumulative += n
    previousQ = (cumulative / histogram.count) * 100
    points.push([percentileX(previousQ), value / 1e6])
  }
  return points
}

function panel(box: Box, title: string, xLabel: string, yLabel: string, xAxis: Axis, yAxis: Axis, series: readonly Series[]): string {
  const parts: string[] = []
  const px = (v: number): number => project(xAxis, v, box.x, box.w)
  const py = (v: number): number => project(yAxis, v, box.y + box.h, -box.h)
  parts.push(`<text x="${box.x + box.w / 2}" y="${box.y - 12}" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`)
  parts.push(`<rect x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" fill="#fcfcfc" stroke="#444"/>`)
  for (const tick of yAxis.ticks) {
    const y = py(tick.value).toFixed(1)
    parts.push(`<line x1="${box.x}" x2="${box.x + box.w}" y1="${y}" y2="${y}" stroke="#ddd"/>`)
    parts.push(`<text x="${box.x - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="11">${escapeXml(tick.label)}</text>`)
  }
  for (const tick of xAxis.ticks) {
    const x = px(tick.value).toFixed(1)
    parts.push(`<line x1="${x}" x2="${x}" y1="${box.y}" y2="${box.y + box.h}" stroke="#ddd"/>`)
    parts.push(`<text x="${x}" y="${box.y + box.h + 16}" text-anchor="middle" font-size="11">${escapeXml(tick.label)}</text>`)
  }
  parts.push(`<text x="${box.x + box.w / 2}" y="${box.y + box.h + 36}" text-anchor="middle" font-size="12">${escapeXml(xLabel)}</text>`)
  const yMid = box.y + box.h / 2
  parts.push(`<text x="${box.x - 58}" y="${yMid}" text-anchor="middle" font-size="12" transform="rotate(-90 ${box.x - 58} ${yMid})">${escapeXml(yLabel)}</text>`)
  for (const s of series) {
    for (const b of s.breaks ?? []) {
      const x = px(b).toFixed(1)
      parts.push(`<line x1="${x}" x2="${x}" y1="${box.y}" y2="${box.y + box.h}" stroke="${s.color}" stroke-opacity="0.25" stroke-dasharray="3 3"/>`)
    }
    const coords = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`)
    if (coords.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${coords.join(' ')}"/>`)
    // Markers keep single samples visible (short runs have one window per repetition).
    if (s.points.length <= 60) for (const c of coords) {
      const [x, y] = c.split(',')
      parts.push(`<circle cx="${x}" cy="${y}" r="3" fill="${s.color}"/>`)
    }
  }
  return parts.join('\n')
}

function legend(x: number, y: number, series: readonly Series[]): string {
  return series
    .map((s, i) => {
      const row = y + i * 18
      return `<rect x="${x}" y="${row - 9}" width="14" height="4" fill="${s.color}"/><text x="${x + 20}" y="${row - 7}" dominant-baseline="middle" font-size="12">${escapeXml(s.label)}</text>`
    })
    .join('\n')
}

/** Splits `text` into lines of at most `maxChars`, at spaces where it can, mid-word where it must. */
export function wrapText(text: string, maxChars: number): string[] {
  const lines: string[] = []
  let line = ''
  for (let word of text.split(/\s+/).filter((w) => w.length > 0)) {
    while (word.length > maxChars) {
      if (line) lines.push(line)
      lines.push(word.slice(0, maxChars))
      word = word.slice(maxChars)
      line = ''
    }
    if (!line) line = word
    else if (line.length + 1 + word.length <= maxChars) line += ` ${word}`
    else {
      lines.push(line)
      line = word
    }
  }
  if (line || lines.length === 0) lines.push(line)
  return lines
}

/** Length of each throughput window in ms: from the previous sample (or the start) to this one. */
function windowsMs(samples: readonly ThroughputSample[]): number[] {
  return samples.map((sample, i) => sample.tMs - (i === 0 ? 0 : samples[i - 1].tMs))
}

/** The shortest window that was not a repetition's last: windows close once the interval has passed. */
function inferredIntervalMs(repetitions: readonly RepetitionResult[]): number {
  const full = repetitions.flatMap((rep) => windowsMs(rep.throughput).slice(0, -1))
  return full.length > 0 ? Math.min(...full) : RUNNER_DEFAULT_INTERVAL_MS
}

function throughputSeries(report: BenchReport, sampleIntervalMs: number | undefined): Series[] {
  const runs = report.scenarios.flatMap((s) => (s.reference ? [s, { ...s.reference, name: s.reference.name }] : [s]))
  const intervalMs = sampleIntervalMs ?? inferredIntervalMs(runs.flatMap((run) => run.repetitions))
  return runs.map((run, i) => {
    const points: Array<[number, number]> = []
    const breaks: number[] = []
    let offsetS = 0
    for (const [r, rep] of run.repetitions.entries()) {
      if (r > 0) breaks.push(offsetS)
      const windows = windowsMs(rep.throughput)
      for (const [w, sample] of rep.throughput.entries()) {
        // A short last window is a tail, not a rate; a repetition's only window is its whole run and stays.
        const shortTail = w === windows.length - 1 && w > 0 && windows[w] < intervalMs
        if (!shortTail) points.push([offsetS + sample.tMs / 1000, sample.recordsPerSec])
      }
      offsetS += rep.durationNs / 1e9
    }
    return { label: run.name, color: PALETTE[i % PALETTE.length], points, breaks }
  })
}

function latencySeries(report: BenchReport): Series[] {
  const runs = report.scenarios.flatMap((s) => (s.reference ? [s, s.reference] : [s]))
  return runs
    .map((run, i) => {
      const merged = mergeSerializedHistograms(run.repetitions.map((r) => r.latency))
      return { label: `${run.name} (max ${+(merged.max / 1e6).toPrecision(3)} ms)`, color: PALETTE[i % PALETTE.length], points: merged.count > 0 ? percentileCurve(merged) : [] }
    })
    .filter((s) => s.points.length > 0)
}

/** The SVG document for `report`. */
export function renderBenchSvg(report: BenchReport, options: PlotOptions = {}): string {
  const width = options.width ?? 1000
  const height = options.height ?? 860
  const title = options.title ?? `ringlog bench — ${report.scenarios.map((s) => s.name).join(', ')}`
  const titleLines = wrapText(title, Math.floor((width - 40) / (TITLE_FONT_PX * CHAR_WIDTH_EM)))
  const titleExtra = (titleLines.length - 1) * TITLE_LINE_PX
  const left = 90
  const plotW = width - left - 40
  const tpBox: Box = { x: left, y: 95 + titleExtra, w: plotW, h: 250 }
  const tp = throughputSeries(report, options.sampleIntervalMs)
  const tpMaxX = Math.max(1e-3, ...tp.flatMap((s) => s.points.map((p) => p[0])))
  const tpMaxY = Math.max(1, ...tp.flatMap((s) => s.points.map((p) => p[1])))
  const tpLegendY = tpBox.y + tpBox.h + 60
  const latBox: Box = { x: left, y: tpLegendY + tp.length * 18 + 40, w: plotW, h: 250 }
  const lat = latencySeries(report)
  const latValues = lat.flatMap((s) => s.points.map((p) => p[1])).filter((v) => v > 0)
  const latMin = latValues.length > 0 ? Math.min(...latValues) : 0.001
  const latMax = latValues.length > 0 ? Math.max(...latValues) : 1
  const yLat = latMax / latMin > 20 ? logAxis(latMin, latMax) : linearAxis(0, latMax)
  const xLat: Axis = {
    min: 0,
    max: percentileX(LAST_PERCENTILE),
    log: false,
    ticks: [0, 90, 99, 99.9, 99.99, 99.999].map((q) => ({ value: percentileX(q), label: `${q}%` })),
  }
  const totalHeight = Math.max(height, latBox.y + latBox.h + 60 + lat.length * 18)
  const m = report.machine
  const subtitle = `${report.createdAt} · ${m.cpus} × ${m.cpuModel} · node ${m.node} · load ${m.loadAverage1m.toFixed(2)}`
  const body = [
    ...titleLines.map((line, i) => `<text x="${width / 2}" y="${28 + i * TITLE_LINE_PX}" text-anchor="middle" font-size="${TITLE_FONT_PX}" font-weight="bold">${escapeXml(line)}</text>`),
    `<text x="${width / 2}" y="${48 + titleExtra}" text-anchor="middle" font-size="11" fill="#555">${escapeXml(subtitle)}</text>`,
    panel(tpBox, 'Throughput over time (repetitions back to back, dashed = next repetition)', 'measured time (s)', 'records / s', linearAxis(0, tpMaxX), linearAxis(0, tpMaxY * 1.05), tp),
    legend(tpBox.x, tpLegendY, tp),
    panel(latBox, 'Latency distribution (all repetitions merged)', 'percentile', `latency (ms${yLat.log ? ', log scale' : ''})`, xLat, yLat, lat),
    legend(latBox.x, latBox.y + latBox.h + 60, lat),
  ]
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${totalHeight}" viewBox="0 0 ${width} ${totalHeight}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...body,
    `</svg>`,
    '',
  ].join('\n')
}
