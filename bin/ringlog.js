#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm install` (prepare) or `npm run build`.
// main() reports every failure of a command itself; this only covers a missing or broken build.
import('../dist/cli/main.js').then(
  (m) => m.main(process.argv.slice(2)),
  (error) => {
    process.stderr.write(`ringlog: cannot load the compiled CLI (run npm run build): ${error.message.split('\n')[0]}\n`)
    process.exit(1)
  },
)
