/** The scenarios `ringlog bench` and `npm run bench` know by name. */
import type { BenchParamInput, Scenario } from '../scenario.js'
import { consumeScenario } from './consume.js'
import { e2eLatencyScenario } from './e2e-latency.js'
import { fileAppendScenario } from './file-append.js'
import { produceScenario, type TcpScenarioOptions } from './produce.js'

export const SCENARIO_NAMES = ['produce', 'consume', 'e2e-latency', 'file-append'] as const
export type ScenarioName = (typeof SCENARIO_NAMES)[number]

export function isScenarioName(name: string): name is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(name)
}

/** Builds scenario `name` with `params` over the defaults. */
export function makeScenario(name: ScenarioName, params: BenchParamInput, options: TcpScenarioOptions = {}): Scenario {
  // The sink drops what it is sent: there is nothing to consume from it.
  if (options.brokerPlacement === 'sink' && name !== 'produce') throw new RangeError(`--broker-placement sink only serves the produce scenario, not ${name}`)
  switch (name) {
    case 'produce': return produceScenario(params, options)
    case 'consume': return consumeScenario(params, options)
    case 'e2e-latency': return e2eLatencyScenario(params, options)
    case 'file-append': return fileAppendScenario(params, { name: options.name, dir: options.dir }) as Scenario
  }
}
