import { parseArgs } from 'node:util'
import { ADMIN_TOKEN_ENV, adminRequest, adminToken, DEFAULT_GATEWAY_URL, gatewayUrl } from './admin-client.js'
import { CliError } from './cli-error.js'

export const INVALIDATE_HELP = `Usage: tollgate invalidate (--tag T... | --key K... | --namespace N | --clear)
                           [--tenant T | --all-tenants] [--url URL]

Drops cache entries on a running gateway, on every instance (through the invalidation bus):
  --tag T        the entries tagged T (x-tollgate-cache-tags); repeat it or give T1,T2 for several
  --key K        the entry of that cache key (the x-tollgate-cache-key reply header); repeatable
  --namespace N  alone: every entry of namespace N (x-tollgate-cache-namespace); with --tag or
                 --key: look only in N
  --clear        every entry of the tenant's default namespace

Whose entries: --tenant T (may be left out when the gateway has one tenant) or --all-tenants;
every end user's and key's entries of the tenant (cache.scope user or key) included.
The admin token is read from ${ADMIN_TOKEN_ENV} (never an argument: arguments show in process
listings). Prints what was invalidated; exit 1 when the gateway refuses, 2 on a usage error.

Options:
  --url URL      the gateway's root URL (default ${DEFAULT_GATEWAY_URL}; a trailing /v1 is dropped)
  -h, --help     show this help
`

/** The body of `POST /admin/cache/invalidate`. */
interface InvalidateRequest {
  tenant?: string
  allTenants?: true
  namespace?: string
  tags?: string[]
  keys?: string[]
  clear?: true
}

interface InvalidateAnswer {
  invalidated: { namespaces: string[]; tags?: string[]; keys?: string[] }
}

/** `tollgate invalidate ...`; returns the exit code. */
export async function invalidate(args: string[], env: NodeJS.ProcessEnv, out: (text: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      tag: { type: 'string', multiple: true },
      key: { type: 'string', multiple: true },
      namespace: { type: 'string' },
      clear: { type: 'boolean' },
      tenant: { type: 'string' },
      'all-tenants': { type: 'boolean' },
      url: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  })
  if (values.help) {
    out(INVALIDATE_HELP)
    return 0
  }
  if (values.token !== undefined) throw new CliError(`the admin token is read from ${ADMIN_TOKEN_ENV}, never from an argument (arguments show in process listings)`, 2)
  if (positionals.length > 0) throw new CliError(`invalidate takes options only, got "${positionals.join(' ')}" (tollgate invalidate --help)`, 2)
  const tags = (values.tag ?? []).flatMap((tag) => tag.split(',')).map((tag) => tag.trim())
  if (tags.some((tag) => tag === '')) throw new CliError('--tag: an empty tag', 2)
  const keys = values.key ?? []
  const what = [tags.length > 0 && '--tag', keys.length > 0 && '--key', values.clear && '--clear'].filter(Boolean)
  if (what.length > 1 || (what.length === 0 && values.namespace === undefined)) {
    throw new CliError(`say what to invalidate: one of --tag, --key, --clear or --namespace alone${what.length > 1 ? ` (got ${what.join(' and ')})` : ''} (tollgate invalidate --help)`, 2)
  }
  if (values.tenant !== undefined && values['all-tenants']) throw new CliError('--tenant and --all-tenants exclude each other', 2)
  const body: InvalidateRequest = {
    ...(values.tenant !== undefined ? { tenant: values.tenant } : {}),
    ...(values['all-tenants'] ? { allTenants: true as const } : {}),
    ...(values.namespace !== undefined ? { namespace: values.namespace } : {}),
    ...(tags.length > 0 ? { tags } : {}),
    ...(keys.length > 0 ? { keys } : {}),
    ...(values.clear ? { clear: true as const } : {}),
  }
  const url = gatewayUrl(values.url)
  const answer = await adminRequest<InvalidateAnswer>(url, adminToken(env), 'POST', '/admin/cache/invalidate', body)
  if (!Array.isArray(answer.invalidated?.namespaces)) throw new CliError(`the gateway at ${url} answered without saying what it invalidated: ${JSON.stringify(answer).slice(0, 200)}`)
  const { namespaces, tags: dropped, keys: deleted } = answer.invalidated
  const scope = `in ${namespaces.length === 1 ? 'namespace' : 'namespaces'} ${namespaces.join(', ') || '(none)'}`
  out(dropped ? `invalidated tags ${dropped.join(', ')} ${scope}\n` : deleted ? `deleted keys ${deleted.join(', ')} ${scope}\n` : `cleared ${scope}\n`)
  return 0
}
