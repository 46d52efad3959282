/**
 * Statistics for benchmark repetitions: location and spread, percentiles, and a
 * distribution-free two-sample comparison (Mann-Whitney U) with a bootstrap confidence
 * interval for the ratio of medians. Benchmarks are noisy and skewed (a few slow runs),
 * so comparisons use ranks and medians rather than means and a t-test.
 */

function requireSamples(xs: readonly number[], what: string): void {
  if (xs.length === 0) throw new RangeError(`${what} of an empty sample`)
}

function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b)
}

export function mean(xs: readonly number[]): number {
  requireSamples(xs, 'mean')
  let sum = 0
  for (const x of xs) sum += x
  return sum / xs.length
}

/** Sample standard deviation (divides by n - 1); 0 for a single value. */
export function stddev(xs: readonly number[]): number {
  requireSamples(xs, 'stddev')
  if (xs.length === 1) return 0
  const m = mean(xs)
  let sq = 0
  for (const x of xs) sq += (x - m) * (x - m)
  return Math.sqrt(sq / (xs.length - 1))
}

/**
 * Percentile `p` (0..100) with linear interpolation between closest ranks: the value at
 * 0-based position h = (n - 1) * p / 100, interpolating between floor(h) and ceil(h).
 * This is Hyndman-Fan type 7, the default of NumPy, R and Excel's PERCENTILE.INC, so
 * results can be checked against any of them.
 */
export function percentile(xs: readonly number[], p: number): number {
  requireSamples(xs, 'percentile')
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`)
  return percentileOfSorted(sorted(xs), p)
}

/** Same as `percentile` for input already sorted ascending (no copy). */
export function percentileOfSorted(ascending: readonly number[], p: number): number {
  const h = ((ascending.length - 1) * p) / 100
  const lo = Math.floor(h)
  const hi = Math.min(lo + 1, ascending.length - 1)
  return ascending[lo] + (h - lo) * (ascending[hi] - ascending[lo])
}

export function median(xs: readonly number[]): number {
  return percentile(xs, 50)
}

/** Deterministic PRNG (mulberry32): uniform in [0, 1). Seeded so bootstrap CIs are reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Complementary error function, accurate to ~1e-15 (series below 2.5, continued fraction above). */
export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x)
  if (x < 2.5) {
    // erf(x) = 2/sqrt(pi) * exp(-x^2) * sum 2^n x^(2n+1) / (1*3*...*(2n+1)): positive terms, stable.
    let term = x
    let sum = x
    for (let n = 1; n < 200; n++) {
      term *= (2 * x * x) / (2 * n + 1)
      sum += term
      if (term < sum * 1e-17) break
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated by Lentz's method.
  const tiny = 1e-300
  let f = x
  let c = x
  let d = 0
  for (let k = 1; k < 500; k++) {
    const a = k / 2
    d = x + a * d
    d = Math.abs(d) < tiny ? tiny : d
    c = x + a / c
    c = Math.abs(c) < tiny ? tiny : c
    d = 1 / d
    const delta = c * d
    f *= delta
    if (Math.abs(delta - 1) < 1e-16) break
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f
}

/** Upper tail of the standard normal distribution, P(Z > z). */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2)
}

export type Alternative = 'two-sided' | 'less' | 'greater'
export type MannWhitneyMethod = 'exact' | 'normal'

export interface MannWhitneyOptions {
  /** 'greater': x tends to be larger than y; 'less': smaller (SciPy's convention). Default two-sided. */
  alternative?: Alternative
  /** Default: exact when there are no ties and n1 + n2 <= 40, the normal approximation otherwise. */
  method?: MannWhitneyMethod | 'auto'
}

export interface MannWhitneyResult {
  /** U statistic of the first sample: rank sum of x minus n1(n1+1)/2 (SciPy's U1). */
  u: number
  p: number
  method: MannWhitneyMethod
}

/** Average ranks (1-based) of `values`, ties sharing the mean of their positions; plus tie group sizes. */
function rankWithTies(values: readonly number[]): { ranks: number[]; tieSizes: number[] } {
  const order = values.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v)
  const ranks = new Array<number>(values.length)
  const tieSizes: number[] = []
  let start = 0
  while (start < order.length) {
    let end = start + 1
    while (end < order.length && order[end].v === order[start].v) end++
    const averageRank = (start + 1 + end) / 2
    for (let k = start; k < end; k++) ranks[order[k].i] = averageRank
    if (end - start > 1) tieSizes.push(end - start)
    start = end
  }
  return { ranks, tieSizes }
}

/**
 * Number of arrangements giving each U for sample sizes m, n without ties: the coefficients
 * of the Gaussian binomial [m+n choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i).
 * Every partial product is itself a polynomial with integer coefficients, and C(40, 20) is far
 * below 2^53, so doubles hold the counts exactly.
 */
export function mannWhitneyExactCounts(m: number, n: number): number[] {
  const size = m * n + 1
  const poly = new Array<number>(size).fill(0)
  poly[0] = 1
  for (let i = 1; i <= m; i++) {
    const shift = n + i
    for (let k = size - 1; k >= shift; k--) poly[k] -= poly[k - shift]
    for (let k = i; k < size; k++) poly[k] += poly[k - i]
  }
  return poly
}

/** Mann-Whitney U test (Wilcoxon rank-sum) of x against y, matching scipy.stats.mannwhitneyu. */
export function mannWhitneyU(x: readonly number[], y: readonly number[], options: MannWhitneyOptions = {}): MannWhitneyResult {
  requireSamples(x, 'Mann-Whitney U')
  requireSamples(y, 'Mann-Whitney U')
  const alternative = options.alternative ?? 'two-sided'
  const n1 = x.length
  const n2 = y.length
  const { ranks, tieSizes } = rankWithTies([...x, ...y])
  let rankSumX = 0
  for (let i = 0; i < n1; i++) rankSumX += ranks[i]
  const u1 = rankSumX - (n1 * (n1 + 1)) / 2
  const u2 = n1 * n2 - u1

  const requested = options.method ?? 'auto'
  const method: MannWhitneyMethod = requested === 'auto' ? (tieSizes.length === 0 && n1 + n2 <= 40 ? 'exact' : 'normal') : requested
  // The statistic whose upper tail is the evidence for the alternative.
  const uTail = alternative === 'two-sided' ? Math.max(u1, u2) : alternative === 'greater' ? u1 : u2
  const sides = alternative === 'two-sided' ? 2 : 1

  let p: number
  if (method === 'exact') {
    const counts = mannWhitneyExactCounts(n1, n2)
    let total = 0
    let tail = 0
    for (let u = 0; u < counts.length; u++) {
      total += counts[u]
      if (u >= uTail) tail += counts[u]
    }
    p = (sides * tail) / total
  } else {
    const n = n1 + n2
    let tieTerm = 0
    for (const t of tieSizes) tieTerm += t * t * t - t
    const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)))
    // All values tied: no evidence either way.
    if (variance <= 0) p = 1
    else p = sides * normalSf((uTail - (n1 * n2) / 2 - 0.5) / Math.sqrt(variance))
  }
  return { u: u1, p: Math.min(1, Math.max(0, p)), method }
}

export interface RatioEstimate {
  /** median(current) / median(baseline). */
  ratio: number
  low: number
  high: number
  confidence: number
}

export interface RatioOptions {
  /** Default 0.95. */
  confidence?: number
  /** Bootstrap resamples, default 2000. */
  resamples?: number
  /** Seed of the resampling PRNG, default 1. */
  seed?: number
}

function resampledMedian(xs: readonly number[], random: () => number, scratch: number[]): number {
  for (let i = 0; i < xs.length; i++) scratch[i] = xs[Math.floor(random() * xs.length)]
  scratch.sort((a, b) => a - b)
  return percentileOfSorted(scratch, 50)
}

/**
 * Ratio of medians current/baseline with a percentile-bootstrap confidence interval (each
 * sample resampled with replacement, independently). With few repetitions the interval is
 * coarse, which is honest: it only narrows with more repetitions.
 */
export function ratioOfMedians(baseline: readonly number[], current: readonly number[], options: RatioOptions = {}): RatioEstimate {
  requireSamples(baseline, 'ratio of medians')
  requireSamples(current, 'ratio of medians')
  const confidence = options.confidence ?? 0.95
  const resamples = options.resamples ?? 2000
  const random = seededRandom(options.seed ?? 1)
  const ratios = new Array<number>(resamples)
  const scratchA = new Array<number>(baseline.length)
  const scratchB = new Array<number>(current.length)
  for (let r = 0; r < resamples; r++) {
    ratios[r] = resampledMedian(current, random, scratchB) / resampledMedian(baseline, random, scratchA)
  }
  ratios.sort((a, b) => a - b)
  const tail = ((1 - confidence) / 2) * 100
  return {
    ratio: median(current) / median(baseline),
    low: percentileOfSorted(ratios, tail),
    high: percentileOfSorted(ratios, 100 - tail),
    confidence,
  }
}

export interface SampleComparison extends MannWhitneyResult, RatioEstimate {
  n1: number
  n2: number
  /** Smallest two-sided p-value the exact test can reach with these sample sizes (2 / C(n1+n2, n1)). */
  minAchievableP: number
}

function binomial(n: number, k: number): number {
  let result = 1
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i
  return result
}

/**
 * Mann-Whitney (two-sided unless asked) plus the ratio of medians with its CI. Baseline first;
 * `u` and n1 are the current sample's, n2 the baseline's.
 */
export function compareSamples(baseline: readonly number[], current: readonly number[], options: RatioOptions & MannWhitneyOptions = {}): SampleComparison {
  const test = mannWhitneyU(current, baseline, options)
  const ratio = ratioOfMedians(baseline, current, options)
  const minAchievableP = Math.min(1, 2 / binomial(baseline.length + current.length, baseline.length))
  return { ...test, ...ratio, n1: current.length, n2: baseline.length, minAchievableP }
}
