/** Test certificates made with openssl in a temp dir: a CA, a broker certificate for 127.0.0.1/localhost, a client certificate. */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface TestCerts {
  dir: string
  caCert: string
  caKey: string
  brokerCert: string
  brokerKey: string
  clientCert: string
  clientKey: string
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 })
}

/** Signs a new key's certificate for `cn` with the CA; `san` adds subjectAltName. */
export function issue(dir: string, name: string, cn: string, san?: string): { cert: string; key: string } {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`])
  const args = ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2']
  if (san) {
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\n`)
    args.push('-extfile', `${name}.ext`)
  }
  openssl(dir, args)
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) }
}

export function makeCerts(dir: string): TestCerts {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=ringlog-test-ca'])
  const broker = issue(dir, 'broker', 'localhost', 'IP:127.0.0.1,DNS:localhost')
  const client = issue(dir, 'client', 'carol')
  return { dir, caCert: join(dir, 'ca.pem'), caKey: join(dir, 'ca.key'), brokerCert: broker.cert, brokerKey: broker.key, clientCert: client.cert, clientKey: client.key }
}
