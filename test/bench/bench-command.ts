/** Runs `ringlog bench` in process (src/cli/bench.ts) with its output captured: the exit code and both streams. */
import { PassThrough } from 'node:stream'
import { runBenchCommand, type BenchCommandOptions } from '../../src/cli/bench.js'

export async function runBench(scenarios: string[], options: BenchCommandOptions): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  stderr.on('data', (chunk: Buffer) => { err += chunk.toString() })
  const code = await runBenchCommand(scenarios, { progress: false, ...options }, { stdout, stderr })
  return { code, out, err }
}
