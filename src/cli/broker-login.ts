/**
 * The options of an online tool command that may have to log in: `-b host:port`, `--sasl
 * user:password`, `--sasl-mechanism`, and `--tls` with its CA / client-certificate files, and the
 * connect options they make. Without --tls the tool speaks to a PLAINTEXT or SASL_PLAINTEXT
 * listener; with it to an SSL or SASL_SSL one.
 */
import { readFileSync } from 'node:fs'
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'
import type { Command } from 'commander'
import { InvalidConfigError } from '../errors.js'
import { DEFAULT_BOOTSTRAP, type ToolConnectOptions } from '../kafka-client/negotiated-client.js'
import { parseSaslLogin, SASL_CLIENT_MECHANISMS } from '../kafka-client/sasl-login.js'

export interface BrokerLoginOptions {
  bootstrap: string
  sasl?: string
  saslMechanism: string
  tls?: boolean
  tlsCaFile?: string
  tlsCertFile?: string
  tlsKeyFile?: string
}

export const DEFAULT_SASL_MECHANISM = 'SCRAM-SHA-512'

/** Adds -b, --sasl, --sasl-mechanism and the TLS options; `bootstrapDefault` null leaves -b unset unless given (offline by default). */
export function withBrokerLogin(command: Command, bootstrapDefault: string | null = DEFAULT_BOOTSTRAP): Command {
  return command
    .option('-b, --bootstrap <host:port>', 'broker address', bootstrapDefault ?? undefined)
    .option('--sasl <user:password>', 'log in with SASL (a SASL_PLAINTEXT listener, or SASL_SSL with --tls)')
    .option('--sasl-mechanism <mechanism>', SASL_CLIENT_MECHANISMS.join(' | '), DEFAULT_SASL_MECHANISM)
    .option('--tls', 'connect with TLS (an SSL or SASL_SSL listener); implied by the --tls-*-file options')
    .option('--tls-ca-file <pem>', 'CA that signed the broker certificate (default: the system CAs)')
    .option('--tls-cert-file <pem>', 'client certificate, for a listener that requires one (mTLS)')
    .option('--tls-key-file <pem>', 'private key of --tls-cert-file')
}

function readPem(path: string, option: string): Buffer {
  try {
    return readFileSync(path)
  } catch (error) {
    throw new InvalidConfigError(`${option}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
}

/** The node:tls options the --tls* flags ask for; undefined means a plain TCP connection. */
export function tlsOptions(options: Omit<BrokerLoginOptions, 'bootstrap' | 'saslMechanism'>): TlsConnectionOptions | undefined {
  const wanted = options.tls === true || options.tlsCaFile !== undefined || options.tlsCertFile !== undefined || options.tlsKeyFile !== undefined
  if (!wanted) return undefined
  if ((options.tlsCertFile === undefined) !== (options.tlsKeyFile === undefined)) {
    throw new InvalidConfigError('--tls-cert-file and --tls-key-file go together')
  }
  return {
    ...(options.tlsCaFile !== undefined && { ca: readPem(options.tlsCaFile, '--tls-ca-file') }),
    ...(options.tlsCertFile !== undefined && { cert: readPem(options.tlsCertFile, '--tls-cert-file') }),
    ...(options.tlsKeyFile !== undefined && { key: readPem(options.tlsKeyFile, '--tls-key-file') }),
  }
}

export function connectOptions(options: BrokerLoginOptions, clientId: string, extra: Omit<ToolConnectOptions, 'sasl' | 'tls'> = {}): ToolConnectOptions {
  const tls = tlsOptions(options)
  return {
    clientId,
    ...extra,
    ...(options.sasl !== undefined && { sasl: parseSaslLogin(options.sasl, options.saslMechanism) }),
    ...(tls !== undefined && { tls }),
  }
}
