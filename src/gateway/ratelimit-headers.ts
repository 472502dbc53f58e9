import type { Charge } from '../calls/limits.js'
import { refusal } from '../calls/limit-replies.js'
import { GatewayHttpError } from './openai-errors.js'

export { rateLimitHeaders } from '../calls/limit-replies.js'

/** The 429 for a refused charge (see {@link refusal}). */
export function rateLimited(charge: Charge): GatewayHttpError {
  const { message, type, code, headers } = refusal(charge)
  return new GatewayHttpError(429, message, { type, code, headers })
}
