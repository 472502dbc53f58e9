/**
 * The HTTP status and OpenAI error code of each upstream failure a transport answers for itself (a
 * status error passes through as the upstream sent it): the gateway's replies and the synthetic
 * responses of the SDK integration say the same thing.
 */
export const UPSTREAM_FAILURES: ReadonlyMap<string, { status: number; code: string }> = new Map([
  ['E_UPSTREAM_TIMEOUT', { status: 504, code: 'upstream_timeout' }],
  ['E_UPSTREAM_UNREACHABLE', { status: 502, code: 'upstream_unreachable' }],
  ['E_UPSTREAM_INVALID', { status: 502, code: 'upstream_invalid_reply' }],
  ['E_UPSTREAM_INCOMPLETE', { status: 502, code: 'upstream_incomplete' }],
  ['E_UPSTREAM_TOO_LARGE', { status: 502, code: 'upstream_reply_too_large' }],
  ['E_UPSTREAM_ABORTED', { status: 502, code: 'upstream_aborted' }],
])
