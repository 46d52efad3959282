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
  if (options.tls) {
    // TLS is a property of the wire: only the load generator's connections carry it.
    if (name === 'file-append') throw new RangeError('--tls does not apply to file-append (no connection to encrypt)')
    if (options.client === 'kcat') throw new RangeError('--tls is not wired to --client kcat yet (use the loadgen client)')
  }
  switch (name) {
    case 'produce': return named(produceScenario(params, options), options)
    case 'consume': return named(consumeScenario(params, options), options)
    case 'e2e-latency': return named(e2eLatencyScenario(params, options), options)
    case 'file-append': return fileAppendScenario(params, { name: options.name, dir: options.dir }) as Scenario
  }
}

/** A TLS row says so in its name (unless the caller named it), so a report never mixes it up with a plaintext one. */
function named(scenario: Scenario, options: TcpScenarioOptions): Scenario {
  if (options.tls && scenario.params.mode !== 'tcp') throw new RangeError('--tls needs --mode tcp (an embedded run has no connection to encrypt)')
  return options.tls && options.name === undefined ? { ...scenario, name: `${scenario.name} tls` } : scenario
}
