import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import type { z } from 'zod'
import type { UpstreamSpec } from '../calls/upstream.js'
import { createStore, type CreateStoreOptions } from '../stores/create-store.js'
import type { Store } from '../stores/types.js'
import { ConfigError, InvalidOptionError } from '../core/errors.js'
import { storeOptionsFromEnv } from '../stores/from-env.js'
import { configSchema, type limitsSchema, type storeSchema, type upstream } from './config-schema.js'


/** The upstreams as the call layer takes them: each with its connection shares and the gateway's byte bounds. */
export function upstreamSpecs(config: GatewayConfig): UpstreamSpec[] {
  const tenants = new Set(config.keys.map((key) => key.tenant)).size
  return config.upstreams.map((upstream) => ({
    ...upstream,
    connectionsPerTenant: upstream.connectionsPerTenant ?? (tenants > 1 ? Math.max(1, Math.ceil(upstream.connections / 4)) : upstream.connections),
    maxReplyBytes: config.server.maxUpstreamReplyBytes,
    maxReplyValues: config.server.maxUpstreamReplyValues,
    maxErrorBytes: config.server.maxUpstreamErrorBytes,
  }))
}

/** The `createStore` options of a configured store, its TLS files read; a file that cannot be read is a {@link ConfigError} naming it. */
function storeOptions(store: z.output<typeof storeSchema>, path: string): CreateStoreOptions {
  const { tls, ...options } = store
  if (!tls) return options
  const read = (field: 'caFile' | 'certFile' | 'keyFile') => {
    const file = tls[field]
    if (file === undefined) return undefined
    try {
      return readFileSync(file)
    } catch (err) {
      throw new ConfigError(`${path}.tls.${field}`, `cannot read ${file}: ${(err as Error).message}`)
    }
  }
  const ca = read('caFile')
  const cert = read('certFile')
  const key = read('keyFile')
  return {
    ...options,
    tls: { rejectUnauthorized: tls.rejectUnauthorized, ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(tls.servername ? { servername: tls.servername } : {}) },
  }
}

/**
 * The store of a config section, opened: an option the store refuses (an unknown URL scheme, a key
 * prefix too long) stops the start naming the field (`store.url`, `limits.store.keyPrefix`), not an
 * option name that could belong to either store.
 */
export function openStore(store: z.output<typeof storeSchema>, path: string): Store {
  try {
    return createStore(storeOptions(store, path))
  } catch (err) {
    if (err instanceof InvalidOptionError) throw new ConfigError(`${path}.${err.option}`, err.expected)
    throw err
  }
}

export { ConfigError }
export type GatewayConfig = z.output<typeof configSchema>
export type UpstreamConfig = z.output<typeof upstream>
export type LimitsConfig = z.output<typeof limitsSchema>

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string of the parsed file. A variable that is
 * unset and has no default is an error naming it: a missing API key must stop the start, not send
 * "undefined" upstream.
 */
function substitute(value: unknown, env: NodeJS.ProcessEnv, path: string): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, variable: string, fallback: string | undefined) => {
      const found = env[variable]
      if (found !== undefined && found !== '') return found
      if (fallback !== undefined) return fallback
      throw new ConfigError(path, `environment variable ${variable} is not set (use \${${variable}:-default} for a default)`)
    })
  }
  if (Array.isArray(value)) return value.map((item, i) => substitute(item, env, path ? `${path}.${i}` : String(i)))
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substitute(item, env, path ? `${path}.${key}` : key)]))
  }
  return value
}

/** Validates a parsed config object; throws {@link ConfigError} naming the first bad field. */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const result = configSchema.safeParse(substitute(raw ?? {}, env, ''))
  if (!result.success) {
    const issue = result.error.issues[0] as z.core.$ZodIssue
    const path = [...issue.path, ...(issue.code === 'unrecognized_keys' ? issue.keys.slice(0, 1) : [])].join('.')
    const message = issue.code === 'unrecognized_keys' ? 'no such field (check the spelling)' : issue.message.replace(/^Invalid input: /, '')
    throw new ConfigError(path, message)
  }
  return result.data
}

/** Reads and validates a YAML config file. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError('', `cannot read ${file}: ${(err as Error).message}`)
  }
  let raw: unknown
  try {
    raw = parseYaml(text)
  } catch (err) {
    throw new ConfigError('', `${file} is not valid YAML: ${(err as Error).message}`)
  }
  return parseConfig(raw, env)
}

/**
 * The embedded default: no file. Memory store (or the one REDIS_URL and friends name), 127.0.0.1:8080,
 * one upstream from OPENAI_BASE_URL (default the OpenAI API) with OPENAI_API_KEY, no gateway keys.
 */
export function defaultConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const store = storeOptionsFromEnv(env)
  return parseConfig(
    {
      ...(store.url ? { store: { url: store.url, keyPrefix: store.keyPrefix ?? '' } } : {}),
      upstreams: [{ name: 'openai', baseUrl: env.OPENAI_BASE_URL || 'https://api.openai.com/v1', ...(env.OPENAI_API_KEY ? { apiKey: env.OPENAI_API_KEY } : {}) }],
      ...(env.TOLLGATE_ADMIN_TOKEN ? { admin: { token: env.TOLLGATE_ADMIN_TOKEN } } : {}),
    },
    env,
  )
}
