import { createHash } from 'node:crypto'
import type { Caller } from '../calls/types.js'
import type { GatewayConfig } from './config.js'
import { GatewayHttpError } from './openai-errors.js'

export type { Caller }

export const ANONYMOUS = 'anonymous'

/** `sha256:<hex>` of a gateway key: what the config stores instead of the key. */
export function hashKey(key: string): string {
  return `sha256:${createHash('sha256').update(key).digest('hex')}`
}

/** Maps the bearer token of a request to its key's tenant; keys are compared by hash only. */
export class Authenticator {
  readonly #keys = new Map<string, Caller>()

  constructor(private readonly config: GatewayConfig) {
    for (const key of config.keys) this.#keys.set(key.hash, { tenant: key.tenant, key: key.name })
  }

  authenticate(authorization: string | undefined): Caller {
    if (this.config.auth === 'none') return { tenant: 'default', key: ANONYMOUS }
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1]
    const caller = token ? this.#keys.get(hashKey(token)) : undefined
    if (caller) return caller
    throw new GatewayHttpError(401, token ? 'Incorrect API key provided.' : 'Missing API key: send Authorization: Bearer <gateway key>.', {
      code: 'invalid_api_key',
    })
  }
}
