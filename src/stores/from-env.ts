import { InvalidOptionError } from '../core/errors.js'
import { type CreateStoreOptions, createStore } from './create-store.js'
import type { Store } from './types.js'

/**
 * The store URL and prefix that environment variables ask for, in this order: `TOLLGATE_STORE_URL`,
 * `REDIS_URL`, then `REDIS_HOST` with `REDIS_PORT` (6379), `REDIS_DB` (0) and `REDIS_PASSWORD`;
 * `REDIS_KEY_PREFIX` (or `TOLLGATE_KEY_PREFIX`) for the prefix. Nothing set: the memory store.
 */
export function storeOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): CreateStoreOptions {
  const options: CreateStoreOptions = {}
  const url = env.TOLLGATE_STORE_URL || env.REDIS_URL
  if (url) options.url = url
  else if (env.REDIS_HOST) {
    const port = env.REDIS_PORT || '6379'
    const db = env.REDIS_DB || '0'
    if (!/^\d{1,5}$/.test(port)) throw new InvalidOptionError('REDIS_PORT', port, 'a port number')
    if (!/^\d+$/.test(db)) throw new InvalidOptionError('REDIS_DB', db, 'a database number')
    const auth = env.REDIS_PASSWORD ? `:${encodeURIComponent(env.REDIS_PASSWORD)}@` : ''
    const host = env.REDIS_HOST.includes(':') ? `[${env.REDIS_HOST}]` : env.REDIS_HOST
    options.url = `redis://${auth}${host}:${port}/${db}`
  }
  const prefix = env.TOLLGATE_KEY_PREFIX ?? env.REDIS_KEY_PREFIX
  if (prefix) options.keyPrefix = prefix
  return options
}

/** {@link createStore} configured from environment variables (see {@link storeOptionsFromEnv}). */
export function createStoreFromEnv(overrides: CreateStoreOptions = {}, env: NodeJS.ProcessEnv = process.env): Store {
  return createStore({ ...storeOptionsFromEnv(env), ...overrides })
}
