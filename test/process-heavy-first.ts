/**
 * vitest's order when it has no durations of a previous run (a fresh clone, as in CI): files that
 * start the most processes (brokers, etcd, CLI runs, other tools) first, so that no long file starts
 * last while the other worker has nothing left. vitest's own fallback is file size, which puts a
 * short file with a 3-broker cluster near the end. With durations cached, vitest's order (longest
 * first) is kept.
 */
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

/** What starts a process in a test file's source, each counted once per occurrence. */
const PROCESS_STARTS = [/\bstartEtcd\(/g, /\bstartBrokerProcess\(/g, /\bstartBroker\(\{\s*cluster/g, /\brunRinglog\(/g, /\bexecFile\(/g, /\bspawn\(/g, /\brun\(PYTHON\b/g]

function processStarts(path: string): number {
  const source = readFileSync(path, 'utf8')
  return PROCESS_STARTS.reduce((sum, pattern) => sum + (source.match(pattern)?.length ?? 0), 0)
}

export class ProcessHeavyFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files)
    const { cache, config } = this.ctx
    const cached = files.every((spec) => cache.getFileTestResults(`${spec.project.name}:${relative(config.root, spec.moduleId)}`) !== undefined)
    if (cached) return sorted
    const starts = new Map(files.map((spec) => [spec, processStarts(spec.moduleId)]))
    // Projects stay in vitest's order (a reused process is dropped when the next file needs a fresh
    // one); Array.sort is stable, so among files with as many starts vitest's order (larger first) stays.
    const projectRank = new Map<string, number>()
    for (const spec of sorted) if (!projectRank.has(spec.project.name)) projectRank.set(spec.project.name, projectRank.size)
    return sorted.sort((a, b) => (projectRank.get(a.project.name) ?? 0) - (projectRank.get(b.project.name) ?? 0) || (starts.get(b) ?? 0) - (starts.get(a) ?? 0))
  }
}
