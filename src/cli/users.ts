/**
 * `ringlog users add | list | delete --data-dir D`: SCRAM credentials of SASL users, edited
 * offline in the data dir's credentials file (a running broker re-reads it on SIGHUP). The
 * password is only used to derive the salted keys; it is never written.
 */
import type { Command } from 'commander'
import { DEFAULT_CONFIG } from '../config.js'
import { InvalidConfigError } from '../errors.js'
import { CredentialStore } from '../security/credential-store.js'
import { DEFAULT_SCRAM_ITERATIONS, isScramMechanism, MAX_SCRAM_ITERATIONS, MIN_SCRAM_ITERATIONS, newCredential, SCRAM_MECHANISMS, type ScramMechanism } from '../security/scram-keys.js'

function mechanismOf(text: string): ScramMechanism {
  if (!isScramMechanism(text)) throw new InvalidConfigError(`--mechanism must be one of ${SCRAM_MECHANISMS.join(', ')}, got "${text}"`)
  return text
}

function iterationsOf(text: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < MIN_SCRAM_ITERATIONS || n > MAX_SCRAM_ITERATIONS) {
    throw new InvalidConfigError(`--iterations must be an integer from ${MIN_SCRAM_ITERATIONS} to ${MAX_SCRAM_ITERATIONS}, got "${text}"`)
  }
  return n
}

function userNameOf(name: string): string {
  if (name === '' || /[\0]/.test(name)) throw new InvalidConfigError(`user name must be non-empty and without NUL characters`)
  return name
}

export function register(program: Command): void {
  const users = program.command('users').description('SCRAM credentials of SASL users (offline, in the data dir)')
  users
    .command('add <name>')
    .description('add a user or replace its credential for one mechanism (PLAIN accepts the same password)')
    .requiredOption('--password <password>', 'the password (only its salted keys are stored)')
    .option('--mechanism <mechanism>', `${SCRAM_MECHANISMS.join(' | ')}`, 'SCRAM-SHA-512')
    .option('--iterations <n>', `PBKDF2 iterations (${MIN_SCRAM_ITERATIONS}-${MAX_SCRAM_ITERATIONS})`, String(DEFAULT_SCRAM_ITERATIONS))
    .option('--data-dir <dir>', 'broker data dir', DEFAULT_CONFIG.dataDir)
    .action((name: string, options: { password: string; mechanism: string; iterations: string; dataDir: string }) => {
      const mechanism = mechanismOf(options.mechanism)
      const store = CredentialStore.open(options.dataDir)
      store.set(userNameOf(name), mechanism, newCredential(mechanism, options.password, iterationsOf(options.iterations)))
      process.stdout.write(`user ${name}: ${mechanism} credential stored\n`)
    })
  users
    .command('list')
    .description('list users and their mechanisms')
    .option('--data-dir <dir>', 'broker data dir', DEFAULT_CONFIG.dataDir)
    .action((options: { dataDir: string }) => {
      for (const user of CredentialStore.open(options.dataDir).list()) {
        process.stdout.write(`${user.user}\t${user.mechanisms.map((m) => `${m.mechanism}(iterations=${m.iterations})`).join(',')}\n`)
      }
    })
  users
    .command('delete <name>')
    .description('delete a user (or only its credential for --mechanism)')
    .option('--mechanism <mechanism>', 'delete only this mechanism')
    .option('--data-dir <dir>', 'broker data dir', DEFAULT_CONFIG.dataDir)
    .action((name: string, options: { mechanism?: string; dataDir: string }) => {
      const mechanism = options.mechanism === undefined ? undefined : mechanismOf(options.mechanism)
      if (!CredentialStore.open(options.dataDir).delete(name, mechanism)) {
        throw new InvalidConfigError(`no ${mechanism ?? 'SCRAM'} credential for user ${name}`)
      }
      process.stdout.write(`user ${name}: ${mechanism ?? 'all'} credentials deleted\n`)
    })
}
