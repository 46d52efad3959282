/**
 * The TLS settings of SSL/SASL_SSL listeners, read from the configured PEM files: TLS 1.2 and
 * 1.3; with a CA file, clients must present a certificate it signed (mTLS). reload() re-reads
 * the files for new handshakes (SIGHUP); established connections keep their session.
 */
import { readFileSync } from 'node:fs'
import type { SecureContextOptions, TLSSocket, TlsOptions } from 'node:tls'
import { InvalidConfigError } from '../errors.js'

export interface TlsFiles {
  tlsCertFile: string
  tlsKeyFile: string
  tlsCaFile: string
}

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path)
  } catch (error) {
    throw new InvalidConfigError(`cannot read the TLS ${what} ${path}: ${(error as Error).message}`)
  }
}

/** The secure-context part (certificate, key, CA), as setSecureContext takes it. */
export function secureContextOptions(files: TlsFiles): SecureContextOptions {
  return {
    cert: read(files.tlsCertFile, 'certificate'),
    key: read(files.tlsKeyFile, 'key'),
    ca: files.tlsCaFile ? read(files.tlsCaFile, 'CA file') : undefined,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
  }
}

export function tlsServerOptions(files: TlsFiles): TlsOptions {
  const mutual = files.tlsCaFile !== ''
  return { ...secureContextOptions(files), requestCert: mutual, rejectUnauthorized: mutual }
}

/** `User:<CN>` of a verified client certificate, else undefined. */
export function clientCertificatePrincipal(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined
  const cn = socket.getPeerCertificate()?.subject?.CN
  const name = Array.isArray(cn) ? cn[0] : cn
  return name ? `User:${name}` : undefined
}
