/**
 * The options of an online tool command that may have to log in: `-b host:port`, `--sasl
 * user:password` and `--sasl-mechanism`, and the connect options they make (a SASL_PLAINTEXT
 * listener; TLS listeners are not reached by ringlog's tools yet).
 */
import type { Command } from 'commander'
import { DEFAULT_BOOTSTRAP, type ToolConnectOptions } from '../kafka-client/negotiated-client.js'
import { parseSaslLogin, SASL_CLIENT_MECHANISMS } from '../kafka-client/sasl-login.js'

export interface BrokerLoginOptions {
  bootstrap: string
  sasl?: string
  saslMechanism: string
}

export const DEFAULT_SASL_MECHANISM = 'SCRAM-SHA-512'

/** Adds -b, --sasl and --sasl-mechanism; `bootstrapDefault` null leaves -b unset unless given (offline by default). */
export function withBrokerLogin(command: Command, bootstrapDefault: string | null = DEFAULT_BOOTSTRAP): Command {
  return command
    .option('-b, --bootstrap <host:port>', 'broker address', bootstrapDefault ?? undefined)
    .option('--sasl <user:password>', 'log in with SASL (a SASL_PLAINTEXT listener)')
    .option('--sasl-mechanism <mechanism>', SASL_CLIENT_MECHANISMS.join(' | '), DEFAULT_SASL_MECHANISM)
}

export function connectOptions(options: BrokerLoginOptions, clientId: string): ToolConnectOptions {
  return { clientId, ...(options.sasl !== undefined && { sasl: parseSaslLogin(options.sasl, options.saslMechanism) }) }
}
