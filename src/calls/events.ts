import type { UpstreamError } from '../core/errors.js'

/**
 * What the producer reports about each call, for metrics and logs (no capability knows either). Money
 * figures are USD by the pricing table; tokens are the upstream's usage or, when it sent none, the estimate.
 */
export interface CallEvents extends Record<string, unknown> {
  /** An upstream call was paid for (also one that failed after the prompt reached the provider). */
  spent: { tenant: string; model: string; usd: number; promptTokens: number; completionTokens: number }
  /** A reply was served without an upstream call of its own (a hit, stale, or a coalesced wait): what it would have cost. */
  saved: { tenant: string; model: string; usd: number; promptTokens: number; completionTokens: number }
  /** A call joined an identical stream in flight instead of calling the upstream. */
  'stream-joined': { tenant: string; model: string }
  /**
   * An upstream call ended: answered whole, or failed (`failure` is its class). `seconds` runs from the
   * wait for a connection to the last byte; `firstTokenSeconds` to the first streamed chunk.
   */
  upstream: { upstream: string; model: string; tenant: string; seconds: number; firstTokenSeconds?: number; failure?: FailureClass }
}

export interface UpstreamEvents extends Record<string, unknown> {
  /** A call was sent again: the upstream answered 429 or 5xx, or could not be reached. */
  retry: { upstream: string; reason: 'status_429' | 'status_5xx' | 'unreachable' }
}

/** A few classes of upstream failure: bounded, so they can be metric labels. */
export type FailureClass = 'timeout' | 'unreachable' | 'status_429' | 'status_4xx' | 'status_5xx' | 'invalid' | 'incomplete' | 'too_large' | 'aborted'

export function failureClass(error: UpstreamError): FailureClass {
  switch (error.code) {
    case 'E_UPSTREAM_STATUS':
      return error.status === 429 ? 'status_429' : (error.status ?? 500) >= 500 ? 'status_5xx' : 'status_4xx'
    case 'E_UPSTREAM_TIMEOUT':
      return 'timeout'
    case 'E_UPSTREAM_UNREACHABLE':
      return 'unreachable'
    case 'E_UPSTREAM_INVALID':
      return 'invalid'
    case 'E_UPSTREAM_INCOMPLETE':
      return 'incomplete'
    case 'E_UPSTREAM_TOO_LARGE':
      return 'too_large'
    default:
      return 'aborted'
  }
}
