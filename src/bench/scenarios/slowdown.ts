/**
 * A deliberate slowdown for testing regression detection end to end (the CLI's hidden
 * --inject-slowdown): each repetition of the wrapped scenario is made `factor` times longer
 * by waiting after it, so its records/s drop by that factor while the work stays the same.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Scenario } from '../scenario.js'

export function withInjectedSlowdown<State>(scenario: Scenario<State>, factor: number): Scenario<State> {
  if (!(factor >= 1)) throw new RangeError(`slowdown factor must be >= 1, got ${factor}`)
  return {
    ...scenario,
    async run(context, state) {
      const started = process.hrtime.bigint()
      const outcome = await scenario.run(context, state)
      const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6
      await sleep(elapsedMs * (factor - 1))
      return outcome
    },
  }
}
