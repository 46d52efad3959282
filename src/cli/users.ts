/**
 * `ringlog users add | list | delete --data-dir D`: SCRAM credentials of SASL users, edited
 * offline in the data dir's credentials file (a running broker re-reads it on SIGHUP). The
 * password is only used to derive the salted keys; it is never written.
 *
 * With `-b host:port` (and `--sasl user:pw` for a SASL listener) the same commands go to a
 * running broker instead: AlterUserScramCredentials carries the salt, the iteration count and
 * the salted password (never the password itself), DescribeUserScramCredentials lists. In
 * cluster mode any broker takes them (they land in etcd); `--etcd host:port` changes the
 * cluster's users in etcd directly, with no broker running.
 */
import { randomBytes } from 'node:crypto'
import type { Command } from 'commander'
import { DEFAULT_CONFIG } from '../config.js'
import { InvalidConfigError } from '../errors.js'
import { ApiKey, type KafkaWireClient } from '../kafka-client/kafka-wire-client.js'
import { withWireClient } from '../kafka-client/negotiated-client.js'
import { ErrorCode, errorCodeName } from '../protocol/error-codes.js'
import { CredentialStore, type UserCredentialInfo } from '../security/credential-store.js'
import {
  DEFAULT_SCRAM_ITERATIONS, isScramMechanism, MAX_SCRAM_ITERATIONS, MIN_SCRAM_ITERATIONS, newCredential, SCRAM_MECHANISM_CODES, SCRAM_MECHANISMS,
  saltedPassword, scramMechanismOfCode, type ScramMechanism,
} from '../security/scram-keys.js'
import { connectOptions, withBrokerLogin, type BrokerLoginOptions } from './broker-login.js'
import { type EtcdSecurityOptions, withEtcdSecurity, withSecurityMetadata } from './security-etcd.js'

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

export class UserCommandError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UserCommandError'
  }
}

type AlterBody = { deletions: { name: string; mechanism: number }[]; upsertions: { name: string; mechanism: number; iterations: number; salt: Buffer; saltedPassword: Buffer }[] }

/** AlterUserScramCredentials with one change; the user's error, if any, is thrown. */
async function alterOnline(client: KafkaWireClient, user: string, body: AlterBody): Promise<void> {
  const response = await client.request(ApiKey.AlterUserScramCredentials, client.version(ApiKey.AlterUserScramCredentials), body)
  for (const r of response.results) {
    if (r.errorCode !== ErrorCode.NONE) throw new UserCommandError(`user ${user}: ${errorCodeName(r.errorCode)}${r.errorMessage ? ` (${r.errorMessage})` : ''}`)
  }
}

async function listOnline(client: KafkaWireClient): Promise<UserCredentialInfo[]> {
  const response = await client.request(ApiKey.DescribeUserScramCredentials, client.version(ApiKey.DescribeUserScramCredentials), { users: null })
  if (response.errorCode !== ErrorCode.NONE) throw new UserCommandError(`cannot list users: ${errorCodeName(response.errorCode)}${response.errorMessage ? ` (${response.errorMessage})` : ''}`)
  return response.results.map((r) => ({
    user: r.user,
    mechanisms: r.credentialInfos.flatMap((c) => {
      const mechanism = scramMechanismOfCode(c.mechanism)
      return mechanism ? [{ mechanism, iterations: c.iterations }] : []
    }),
  }))
}

type OnlineOptions = Partial<BrokerLoginOptions> & { saslMechanism: string } & EtcdSecurityOptions

function inEtcd(options: OnlineOptions): options is OnlineOptions & { etcd: string } {
  if (options.etcd !== undefined && options.bootstrap !== undefined) throw new InvalidConfigError('give -b (a running broker) or --etcd (the cluster\'s etcd), not both')
  return options.etcd !== undefined
}

function online(options: OnlineOptions): options is OnlineOptions & BrokerLoginOptions {
  return options.bootstrap !== undefined
}

export function register(program: Command): void {
  const users = program.command('users').description('SCRAM credentials of SASL users (offline in the data dir, or online with -b)')
  const onlineHelp = 'a running broker to change instead of --data-dir (AlterUserScramCredentials)'
  withEtcdSecurity(withBrokerLogin(users.command('add <name>'), null))
    .description('add a user or replace its credential for one mechanism (PLAIN accepts the same password)')
    .requiredOption('--password <password>', 'the password (only its salted keys are stored)')
    .option('--mechanism <mechanism>', `${SCRAM_MECHANISMS.join(' | ')}`, 'SCRAM-SHA-512')
    .option('--iterations <n>', `PBKDF2 iterations (${MIN_SCRAM_ITERATIONS}-${MAX_SCRAM_ITERATIONS})`, String(DEFAULT_SCRAM_ITERATIONS))
    .option('--data-dir <dir>', 'broker data dir', DEFAULT_CONFIG.dataDir)
    .addHelpText('after', `\n-b: ${onlineHelp}`)
    .action(async (name: string, options: OnlineOptions & { password: string; mechanism: string; iterations: string; dataDir: string }) => {
      const mechanism = mechanismOf(options.mechanism)
      const iterations = iterationsOf(options.iterations)
      userNameOf(name)
      if (inEtcd(options)) {
        await withSecurityMetadata(options, (metadata) => metadata.alterCredentials([
          { user: name, deletions: [], upsertions: [{ mechanism, credential: newCredential(mechanism, options.password, iterations) }] },
        ]))
      } else if (online(options)) {
        const salt = randomBytes(32)
        const upsertion = { name, mechanism: SCRAM_MECHANISM_CODES[mechanism], iterations, salt, saltedPassword: saltedPassword(mechanism, options.password, salt, iterations) }
        await withWireClient(options.bootstrap, (client) => alterOnline(client, name, { deletions: [], upsertions: [upsertion] }), connectOptions(options, 'ringlog-users'))
      } else {
        CredentialStore.open(options.dataDir).set(name, mechanism, newCredential(mechanism, options.password, iterations))
      }
      process.stdout.write(`user ${name}: ${mechanism} credential stored\n`)
    })
  withEtcdSecurity(withBrokerLogin(users.command('list'), null))
    .description('list users and their mechanisms')
    .option('--data-dir <dir>', 'broker data dir', DEFAULT_CONFIG.dataDir)
    .action(async (options: OnlineOptions & { dataDir: string }) => {
      const list = inEtcd(options)
        ? await withSecurityMetadata(options, async (metadata) => {
          const users = await metadata.readUsers()
          return [...users].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([user, entries]) => ({
            user, mechanisms: [...entries].map(([m, c]) => ({ mechanism: m, iterations: c.iterations })),
          }))
        })
        : online(options)
        ? await withWireClient(options.bootstrap, listOnline, connectOptions(options, 'ringlog-users'))
        : CredentialStore.open(options.dataDir).list()
      for (const user of list) {
        process.stdout.write(`${user.user}\t${user.mechanisms.map((m) => `${m.mechanism}(iterations=${m.iterations})`).join(',')}\n`)
      }
    })
  withEtcdSecurity(withBrokerLogin(users.command('delete <name>'), null))
    .description('delete a user (or only its credential for --mechanism)')
    .option('--mechanism <mechanism>', 'delete only this mechanism')
    .option('--data-dir <dir>', 'broker data dir', DEFAULT_CONFIG.dataDir)
    .action(async (name: string, options: OnlineOptions & { mechanism?: string; dataDir: string }) => {
      const mechanism = options.mechanism === undefined ? undefined : mechanismOf(options.mechanism)
      if (inEtcd(options)) {
        await withSecurityMetadata(options, async (metadata) => {
          const mechanisms = mechanism ? [mechanism] : [...(await metadata.readUsers()).get(name)?.keys() ?? []]
          if (mechanisms.length === 0) throw new UserCommandError(`no SCRAM credential for user ${name}`)
          const { result } = await metadata.alterCredentials([{ user: name, deletions: mechanisms, upsertions: [] }])
          const problem = result.get(name)
          if (problem) throw new UserCommandError(`user ${name}: RESOURCE_NOT_FOUND (${problem})`)
        })
      } else if (online(options)) {
        // Over the wire a deletion names one mechanism: without --mechanism, every one the user has.
        await withWireClient(options.bootstrap, async (client) => {
          const mechanisms = mechanism ? [mechanism] : (await listOnline(client)).find((u) => u.user === name)?.mechanisms.map((m) => m.mechanism) ?? []
          if (mechanisms.length === 0) throw new UserCommandError(`no SCRAM credential for user ${name}`)
          await alterOnline(client, name, { deletions: mechanisms.map((m) => ({ name, mechanism: SCRAM_MECHANISM_CODES[m] })), upsertions: [] })
        }, connectOptions(options, 'ringlog-users'))
      } else if (!CredentialStore.open(options.dataDir).delete(name, mechanism)) {
        throw new InvalidConfigError(`no ${mechanism ?? 'SCRAM'} credential for user ${name}`)
      }
      process.stdout.write(`user ${name}: ${mechanism ?? 'all'} credentials deleted\n`)
    })
}
