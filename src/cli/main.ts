/**
 * `ringlog` command line. Each subcommand is its own module exporting
 * `register(program: Command): void`; adding one is a file plus one line in COMMANDS.
 * bin/ringlog.js calls main() from the compiled dist/cli/main.js; from sources:
 * `node --import tsx src/cli/main.ts serve ...`.
 */
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Command } from 'commander'

export interface CommandModule {
  register(program: Command): void
}

const COMMANDS: readonly CommandModule[] = [
  await import('./serve.js'),
  await import('./groups.js'),
  await import('./bench.js'),
  await import('./topics.js'),
  await import('./produce.js'),
  await import('./consume.js'),
  await import('./dump-log.js'),
]

export function buildProgram(): Command {
  const program = new Command('ringlog')
    .description('Kafka-compatible, worker-threaded log broker and embeddable storage engine')
    .showHelpAfterError()
  for (const command of COMMANDS) command.register(program)
  return program
}

/** Runs the CLI with `argv` (the arguments after the executable and script). */
export async function main(argv: readonly string[]): Promise<void> {
  await buildProgram().parseAsync([...argv], { from: 'user' })
}

function isEntryPoint(): boolean {
  const script = process.argv[1]
  if (!script) return false
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`ringlog: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  })
}
