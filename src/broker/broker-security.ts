/**
 * The broker's security state that handlers reach through the request context: the SCRAM
 * credential store (DescribeUserScramCredentials / AlterUserScramCredentials) and, when
 * `--authorizer on`, the ACL store and the authorizer every request is checked against. In
 * cluster mode both stores are watched copies of etcd and `shared` is where changes are written.
 */
import type { Authorizer } from '../security/authorizer.js'
import type { CredentialStore } from '../security/credential-store.js'
import type { SharedSecurityStore } from '../security/shared-security-store.js'

export interface BrokerSecurity {
  credentials: CredentialStore
  /** Undefined when the authorizer is off: the ACL APIs answer SECURITY_DISABLED. */
  authorizer?: Authorizer
  /** Cluster mode: users and ACLs are changed here (etcd), not in the local stores. */
  shared?: SharedSecurityStore
}
