/**
 * `ringlog` command line. Each subcommand is its own module exporting
 * `register(program: Command): void`; adding one is a file plus one line in COMMANDS.
 * bin/ringlog.js calls main() from the compiled dist/cli/main.js; from sources:
 * `node --import tsx src/cli/main.ts serve ...`.
 *
 * Failures: whatever a command throws (and every usage error commander finds) is printed as one
 * `ringlog: <message>` line on stderr, and the exit code is 1. --help and --version exit 0.
 */
import { readFileSync, realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Command, CommanderError } from 'commander'
import { errorLine } from './error-line.js'

export interface CommandModule {
  register(program: Command): void
}

/** Loaded on demand: a command's modules (the broker, the bench harness) cost start-up time. */
const COMMANDS: Readonly<Record<string, () => Promise<CommandModule>>> = {
  serve: () => import('./serve.js'),
  groups: () => import('./groups.js'),
  bench: () => import('./bench.js'),
  topics: () => import('./topics.js'),
  produce: () => import('./produce.js'),
  consume: () => import('./consume.js'),
  'dump-log': () => import('./dump-log.js'),
  users: () => import('./users.js'),
  cluster: () => import('./cluster.js'),
  acls: () => import('./acls.js'),
  records: () => import('./records.js'),
}

/** The command named first in `argv` alone; none for --version; every command for anything else (help, a typo). */
async function commandsFor(argv: readonly string[]): Promise<CommandModule[]> {
  const first = argv[0]
  if (first === '-V' || first === '--version') return []
  const loaders = first !== undefined && Object.hasOwn(COMMANDS, first) ? [COMMANDS[first]] : Object.values(COMMANDS)
  return Promise.all(loaders.map((load) => load()))
}

/** The version in package.json (two levels up from src/cli/ and from dist/cli/ alike). */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return manifest.version
}

/** Commander's codes for output it has already written and that is not a failure of the command. */
const DISPLAYED = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version'])

export function buildProgram(commands: readonly CommandModule[]): Command {
  // Set before the subcommands are added: they inherit the exit override and the output settings.
  const program = new Command('ringlog')
    .description('Kafka-compatible, worker-threaded log broker and embeddable storage engine')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    // Usage errors are printed by run() like every other failure, as one line.
    .configureOutput({ outputError: () => undefined })
  for (const command of commands) command.register(program)
  return program
}

/**
 * Runs the CLI with `argv` (the arguments after the executable and script) and resolves with
 * the exit code for a failure (1; the line is already on stderr), or 0 once the command's action
 * is done (`serve` keeps running after that, until a signal).
 */
export async function run(argv: readonly string[]): Promise<number> {
  try {
    const program = buildProgram(await commandsFor(argv))
    await program.parseAsync([...argv], { from: 'user' })
    return 0
  } catch (error) {
    if (error instanceof CommanderError && DISPLAYED.has(error.code)) return error.exitCode
    process.stderr.write(errorLine(error))
    return error instanceof CommanderError ? error.exitCode : 1
  }
}

/** The entry bin/ringlog.js calls: runs the CLI and exits at once on a failure (a half-started broker must not keep the process alive). */
export async function main(argv: readonly string[]): Promise<void> {
  const code = await run(argv)
  if (code !== 0) process.exit(code)
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

if (isEntryPoint()) void main(process.argv.slice(2))
