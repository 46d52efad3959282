/**
 * AlterUserScramCredentials v0: upsertions carry a salt, an iteration count and the salted
 * password (never the password); the broker keeps StoredKey and ServerKey derived from it in
 * the credentials file, as `ringlog users add` does offline. Deletions remove one mechanism.
 * One result per user named; a user's changes are all refused when one of them is:
 * UNSUPPORTED_SASL_MECHANISM (unknown mechanism), UNACCEPTABLE_CREDENTIAL (empty name, empty
 * salt or salted password, iterations outside 4096-16384), DUPLICATE_RESOURCE (the same
 * mechanism twice for a user), RESOURCE_NOT_FOUND (deleting a credential that does not exist).
 * Needs ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED for every user). In cluster mode the
 * valid users' changes go to etcd in one transaction (compare-and-swap on each user's key, so a
 * concurrent change on another broker is re-read, never lost); RESOURCE_NOT_FOUND is decided on
 * etcd's copy, and the answer waits until this broker's copy shows the change.
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse } from '../../protocol/messages/alter-user-scram-credentials.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/alter-user-scram-credentials.js'
import type { CredentialStore } from '../../security/credential-store.js'
import { credentialFromSaltedPassword, MAX_SCRAM_ITERATIONS, MIN_SCRAM_ITERATIONS, scramMechanismOfCode, type ScramMechanism } from '../../security/scram-keys.js'
import type { CredentialChange } from '../../security/shared-security-store.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 51
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

interface Change {
  mechanism: ScramMechanism
  apply: () => void
  /** The same change for the cluster's store. */
  credential?: Parameters<CredentialStore['set']>[2]
  deletion: boolean
}

interface Outcome {
  errorCode: number
  errorMessage: string | null
}

export async function handle(request: AlterUserScramCredentialsRequest, ctx: RequestContext): Promise<HandlerReply<AlterUserScramCredentialsResponse>> {
  const users = [...new Set([...request.deletions.map((d) => d.name), ...request.upsertions.map((u) => u.name)])]
  const reply = (outcome: (user: string) => Outcome): HandlerReply<AlterUserScramCredentialsResponse> =>
    ({ kind: 'message', message: { throttleTimeMs: 0, results: users.map((user) => ({ user, ...outcome(user) })) } })
  const store = ctx.security?.credentials
  if (!ctx.access.cluster()) return reply(() => ({ errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null }))
  if (!store) return reply(() => ({ errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: 'no credential store' }))
  const shared = ctx.security?.shared
  const pending: CredentialChange[] = []
  const outcomes = new Map<string, Outcome>()
  const validate = (user: string): Outcome => {
    const changes: Change[] = []
    const refuse = (errorCode: number, errorMessage: string): Outcome => ({ errorCode, errorMessage })
    for (const d of request.deletions.filter((x) => x.name === user)) {
      const mechanism = scramMechanismOfCode(d.mechanism)
      if (!mechanism) return refuse(ErrorCode.UNSUPPORTED_SASL_MECHANISM, `unknown SCRAM mechanism ${d.mechanism}`)
      // In cluster mode etcd's copy decides (the watched one may be a moment behind).
      if (!shared && !store.get(user, mechanism)) return refuse(ErrorCode.RESOURCE_NOT_FOUND, `Attempt to delete a user credential that does not exist: ${user} ${mechanism}`)
      changes.push({ mechanism, apply: () => store.delete(user, mechanism), deletion: true })
    }
    for (const u of request.upsertions.filter((x) => x.name === user)) {
      const mechanism = scramMechanismOfCode(u.mechanism)
      if (!mechanism) return refuse(ErrorCode.UNSUPPORTED_SASL_MECHANISM, `unknown SCRAM mechanism ${u.mechanism}`)
      if (user === '') return refuse(ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Username must not be empty')
      if (u.iterations < MIN_SCRAM_ITERATIONS || u.iterations > MAX_SCRAM_ITERATIONS) {
        return refuse(ErrorCode.UNACCEPTABLE_CREDENTIAL, `iterations must be ${MIN_SCRAM_ITERATIONS}-${MAX_SCRAM_ITERATIONS}, got ${u.iterations}`)
      }
      if (u.salt.length === 0 || u.saltedPassword.length === 0) return refuse(ErrorCode.UNACCEPTABLE_CREDENTIAL, 'salt and salted password must not be empty')
      const credential = credentialFromSaltedPassword(mechanism, Buffer.from(u.saltedPassword), Buffer.from(u.salt), u.iterations)
      changes.push({ mechanism, apply: () => store.set(user, mechanism, credential), credential, deletion: false })
    }
    if (new Set(changes.map((c) => c.mechanism)).size !== changes.length) {
      return refuse(ErrorCode.DUPLICATE_RESOURCE, `A user credential cannot be altered twice in the same request: ${user}`)
    }
    if (shared) {
      pending.push({
        user,
        deletions: changes.filter((c) => c.deletion).map((c) => c.mechanism),
        upsertions: changes.flatMap((c) => (c.credential ? [{ mechanism: c.mechanism, credential: c.credential }] : [])),
      })
      return { errorCode: ErrorCode.NONE, errorMessage: null } // replaced by the outcome of the write
    }
    try {
      for (const c of changes) c.apply()
    } catch (error) {
      return refuse(ErrorCode.UNKNOWN_SERVER_ERROR, (error as Error).message)
    }
    ctx.log.info(`SCRAM credentials of user ${user} altered by ${ctx.session?.principal ?? 'User:ANONYMOUS'}`)
    return { errorCode: ErrorCode.NONE, errorMessage: null }
  }

  for (const user of users) outcomes.set(user, validate(user))
  if (shared && pending.length > 0) {
    try {
      const results = await shared.alterCredentials(pending)
      for (const [user, notFound] of results) {
        outcomes.set(user, notFound === null ? { errorCode: ErrorCode.NONE, errorMessage: null } : { errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: notFound })
        if (notFound === null) ctx.log.info(`SCRAM credentials of user ${user} altered by ${ctx.session?.principal ?? 'User:ANONYMOUS'}`)
      }
    } catch (error) {
      // One transaction for the request: nothing of it was written.
      const errorMessage = `cluster metadata: ${(error as Error).message}`
      for (const c of pending) outcomes.set(c.user, { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage })
    }
  }
  return reply((user) => outcomes.get(user) ?? { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: null })
}
