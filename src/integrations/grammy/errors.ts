import { TollgateError } from '../../core/errors.js'

/**
 * An outgoing Bot API call was not sent: its turn (under the pacing limits, or after a flood wait
 * Telegram imposed) would come later than `maxWait` allows. Nothing reached Telegram.
 */
export class FloodControlTimeoutError extends TollgateError {
  readonly method: string
  /** The chat the call was for, if it named one. */
  readonly chat: string | undefined
  /** How long the call would still have had to wait. */
  readonly waitMs: number
  /** What held it: the pacing limits, or a flood wait recorded after a 429. */
  readonly reason: 'pacing' | 'flood-wait'

  constructor(method: string, chat: string | undefined, waitMs: number, reason: 'pacing' | 'flood-wait', maxWaitMs: number) {
    const where = chat === undefined ? '' : ` to chat ${chat}`
    const why = reason === 'pacing' ? 'the outgoing rate limits' : "a flood wait Telegram imposed"
    super('E_FLOOD_CONTROL_TIMEOUT', `${method}${where} was not sent: ${why} would hold it ${Math.ceil(waitMs)} ms more, past maxWait (${maxWaitMs} ms)`)
    this.method = method
    this.chat = chat
    this.waitMs = waitMs
    this.reason = reason
  }
}
