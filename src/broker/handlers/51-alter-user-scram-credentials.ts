/**
 * AlterUserScramCredentials v0: upsertions carry a salt, an iteration count and the salted
 * password (never the password); the broker keeps StoredKey and ServerKey derived from it in
 * the credentials file, as `ringlog users add` does offline. Deletions remove one mechanism.
 * One result per user named; a user's changes are all refused when one of them is:
 * UNSUPPORTED_SASL_MECHANISM (unknown mechanism), UNACCEPTABLE_CREDENTIAL (empty name, empty
 * salt or salted password, iterations outside 4096-16384), DUPLICATE_RESOURCE (the same
 * mechanism twice for a user), RESOURCE_NOT_FOUND (deleting a credential that does not exist).
 * Needs ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED for every user).
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse } from '../../protocol/messages/alter-user-scram-credentials.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/alter-user-scram-credentials.js'
import { credentialFromSaltedPassword, MAX_SCRAM_ITERATIONS, MIN_SCRAM_ITERATIONS, scramMechanismOfCode, type ScramMechanism } from '../../security/scram-keys.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 51
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

interface Change {
  mechanism: ScramMechanism
  apply: () => void
}

interface Outcome {
  errorCode: number
  errorMessage: string | null
}

export function handle(request: AlterUserScramCredentialsRequest, ctx: RequestContext): HandlerReply<AlterUserScramCredentialsResponse> {
  const users = [...new Set([...request.deletions.map((d) => d.name), ...request.upsertions.map((u) => u.name)])]
  const reply = (outcome: (user: string) => Outcome): HandlerReply<AlterUserScramCredentialsResponse> =>
    ({ kind: 'message', message: { throttleTimeMs: 0, results: users.map((user) => ({ user, ...outcome(user) })) } })
  const store = ctx.security?.credentials
  if (!ctx.access.cluster()) return reply(() => ({ errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: null }))
  if (!store) return reply(() => ({ errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: 'no credential store' }))
  return reply((user) => {
    const changes: Change[] = []
    const refuse = (errorCode: number, errorMessage: string): Outcome => ({ errorCode, errorMessage })
    for (const d of request.deletions.filter((x) => x.name === user)) {
      const mechanism = scramMechanismOfCode(d.mechanism)
      if (!mechanism) return refuse(ErrorCode.UNSUPPORTED_SASL_MECHANISM, `unknown SCRAM mechanism ${d.mechanism}`)
      if (!store.get(user, mechanism)) return refuse(ErrorCode.RESOURCE_NOT_FOUND, `Attempt to delete a user credential that does not exist: ${user} ${mechanism}`)
      changes.push({ mechanism, apply: () => store.delete(user, mechanism) })
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
      changes.push({ mechanism, apply: () => store.set(user, mechanism, credential) })
    }
    if (new Set(changes.map((c) => c.mechanism)).size !== changes.length) {
      return refuse(ErrorCode.DUPLICATE_RESOURCE, `A user credential cannot be altered twice in the same request: ${user}`)
    }
    try {
      for (const c of changes) c.apply()
    } catch (error) {
      return refuse(ErrorCode.UNKNOWN_SERVER_ERROR, (error as Error).message)
    }
    ctx.log.info(`SCRAM credentials of user ${user} altered by ${ctx.session?.principal ?? 'User:ANONYMOUS'}`)
    return { errorCode: ErrorCode.NONE, errorMessage: null }
  })
}
