/**
 * DescribeUserScramCredentials v0: each user's SCRAM mechanisms and iteration counts (never a
 * key). A null or empty user list describes every user. Per user: RESOURCE_NOT_FOUND for a user
 * without credentials, DUPLICATE_RESOURCE for a name asked twice. Needs DESCRIBE on the cluster
 * (top-level CLUSTER_AUTHORIZATION_FAILED), as in Kafka.
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse, DescribeUserScramCredentialsResult } from '../../protocol/messages/describe-user-scram-credentials.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/describe-user-scram-credentials.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import type { UserCredentialInfo } from '../../security/credential-store.js'
import { SCRAM_MECHANISM_CODES } from '../../security/scram-keys.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 50
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

function described(info: UserCredentialInfo): EncodeInput<DescribeUserScramCredentialsResult> {
  return {
    user: info.user, errorCode: ErrorCode.NONE, errorMessage: null,
    credentialInfos: info.mechanisms.map((m) => ({ mechanism: SCRAM_MECHANISM_CODES[m.mechanism], iterations: m.iterations })),
  }
}

export function handle(request: DescribeUserScramCredentialsRequest, ctx: RequestContext): HandlerReply<DescribeUserScramCredentialsResponse> {
  const answer = (errorCode: number, errorMessage: string | null, results: EncodeInput<DescribeUserScramCredentialsResult>[]): HandlerReply<DescribeUserScramCredentialsResponse> =>
    ({ kind: 'message', message: { throttleTimeMs: 0, errorCode, errorMessage, results } })
  const store = ctx.security?.credentials
  if (!ctx.access.cluster()) return answer(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'not authorized on the cluster resource', [])
  const all = store ? store.list() : []
  if (request.users === null || request.users.length === 0) return answer(ErrorCode.NONE, null, all.map(described))
  const counts = new Map<string, number>()
  for (const u of request.users) counts.set(u.name, (counts.get(u.name) ?? 0) + 1)
  const byName = new Map(all.map((info) => [info.user, info]))
  const results = [...counts].map(([user, count]): EncodeInput<DescribeUserScramCredentialsResult> => {
    if (count > 1) return { user, errorCode: ErrorCode.DUPLICATE_RESOURCE, errorMessage: `Cannot describe SCRAM credentials for the same user twice in a single request: ${user}`, credentialInfos: [] }
    const info = byName.get(user)
    if (!info) return { user, errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: `Attempt to describe a user credential that does not exist: ${user}`, credentialInfos: [] }
    return described(info)
  })
  return answer(ErrorCode.NONE, null, results)
}
