import { stringify } from 'yaml'
import type { GatewayConfig } from '../gateway/config.js'
import { maskUrl } from '../stores/url.js'

export const CHECK_CONFIG_HELP = `Usage: tollgate check-config [file]

Validates the config (the file given, TOLLGATE_CONFIG, ./tollgate.yaml, or the embedded default
with its environment variables) and prints the effective config, every default filled in and
every \${VAR} replaced, with secrets masked: upstream keys, passwords in store URLs, secret query
parameters. Exit 0 when valid; 1 with the field's path when not.

Options:
  -h, --help     show this help
`

/** An upstream key as it may be shown: its kind and last four characters, never more. */
function maskSecret(secret: string): string {
  return secret.length <= 8 ? '***' : `***${secret.slice(-4)}`
}

/**
 * Query parameter names that may carry a secret: Gemini's `key`, Azure Functions' `code`, the `sig`
 * of a SAS URL, tokens, passwords. Anywhere in the name: masking a harmless one costs less than
 * printing a secret, and `api-version` stays readable.
 */
const SECRET_QUERY = /key|token|secret|passw|pwd|sig|auth|credential|session|code/i

/** The config with every secret masked, as YAML. */
export function effectiveConfig(config: GatewayConfig, source: string): string {
  const shown = structuredClone(config) as GatewayConfig & Record<string, unknown>
  for (const upstream of shown.upstreams) {
    if (upstream.apiKey !== undefined) upstream.apiKey = maskSecret(upstream.apiKey)
    for (const [name, value] of Object.entries(upstream.query)) {
      if (SECRET_QUERY.test(name)) upstream.query[name] = maskSecret(value)
    }
  }
  if (shown.admin.token !== undefined) shown.admin.token = maskSecret(shown.admin.token)
  if (shown.store) shown.store.url = maskUrl(shown.store.url)
  if (shown.limits.store) shown.limits.store.url = maskUrl(shown.limits.store.url)
  return `# effective config from ${source}; secrets masked\n${stringify(shown)}`
}
