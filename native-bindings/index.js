// Loads the optional sendfile addon built by `npm run build:native`
// (build/Release/ringlog_native.node). Exports null when it is missing or cannot load
// (not built, other platform, ABI mismatch): callers then use the fs read-stream path.
import { createRequire } from 'node:module'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const addonPath = fileURLToPath(new URL('./build/Release/ringlog_native.node', import.meta.url))

function load() {
  if (process.env.RINGLOG_NO_NATIVE === '1' || !existsSync(addonPath)) return null
  try {
    return require(addonPath)
  } catch (err) {
    process.emitWarning(`ringlog: native addon failed to load (${err.message}); using the JS fallback`)
    return null
  }
}

const nativeBinding = load()
export default nativeBinding
