/**
 * Compatibility tests drive real peers (kcat, kafka-python, confluent-kafka, the lz4 CLI). On a
 * developer machine a missing one skips its suite; under CI=true (.ci/run, which installs them
 * all) it fails instead, so a CI image without the tool can never pass by skipping.
 */
import { it } from 'vitest'

/**
 * Call at a test file's top level. Returns true when the suite must be skipped (tool missing,
 * not CI); under CI=true a missing tool adds a failing test naming the Debian package.
 */
export function skipWithout(tool: string, present: boolean, debianPackage: string): boolean {
  if (present) return false
  if (process.env.CI === 'true') {
    it(`${tool} is installed (CI=true: a missing compatibility tool fails)`, () => {
      throw new Error(`${tool} is missing: apt-get install ${debianPackage} (.ci/run installs it)`)
    })
    return false
  }
  console.warn(`skipping the ${tool} tests: ${tool} is not installed (apt-get install ${debianPackage})`)
  return true
}
