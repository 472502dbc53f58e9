import { createHash, timingSafeEqual } from 'node:crypto'
import { GatewayHttpError } from '../openai-errors.js'

const digest = (text: string) => createHash('sha256').update(text).digest()

/**
 * Checks the admin token of a request in constant time. Both sides are hashed first: the comparison
 * then always runs over 32 bytes, so neither the token's length nor where a guess first differs
 * shows in the time it takes.
 */
export class AdminToken {
  readonly #expected: Buffer

  constructor(token: string) {
    this.#expected = digest(token)
  }

  /** Throws a 401 unless `authorization` is `Bearer <the admin token>`. */
  check(authorization: string | undefined): void {
    const given = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1]
    if (given !== undefined && timingSafeEqual(digest(given), this.#expected)) return
    throw new GatewayHttpError(401, given === undefined ? 'Missing admin token: send Authorization: Bearer <admin token>.' : 'Incorrect admin token.', { code: 'invalid_admin_token' })
  }
}
