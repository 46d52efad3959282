// Loads the optional addon built by `npm run build:native` (build/Release/ringlog_native.node):
// sendfile for fetches, memcpy for ring copies and hardware CRC-32C. Exports null when it is missing or cannot
// load (not built, other platform, ABI mismatch): callers then use their JS fallbacks (fs read
// streams, TypedArray#set).
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
