import { CliError } from './cli-error.js'

/** Where the admin token comes from: an argument would show in `ps` and in shell history. */
export const ADMIN_TOKEN_ENV = 'TOLLGATE_ADMIN_TOKEN'

/** The gateway the admin commands talk to unless `--url` names another. */
export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:8080'

/** Longest wait for an admin answer: a stuck gateway must not hang a script. */
const TIMEOUT_MS = 10_000

/** The admin token from the environment; a {@link CliError} saying how to set it when unset. */
export function adminToken(env: NodeJS.ProcessEnv): string {
  const token = env[ADMIN_TOKEN_ENV]
  if (!token) throw new CliError(`set ${ADMIN_TOKEN_ENV} to the gateway's admin token (admin.token in its config); it is never taken as an argument, which would show in process listings`)
  return token
}

/** `text` as it may be shown: whatever precedes an `@` in its authority is a credential. */
function withoutCredentials(text: string): string {
  return text.replace(/^([^/?#]*\/\/)?[^/?#]*@/, '$1***@')
}

/**
 * `--url` checked: the gateway's root as an http(s) URL, without a trailing slash. A trailing `/v1`
 * is dropped: the OpenAI base URL clients are given is the root plus `/v1`, and the admin API is at
 * the root. A query or fragment would be cut into the admin paths, and credentials have no use
 * (the token comes from the environment), so those are usage errors that never echo the credentials.
 */
export function gatewayUrl(url: string | undefined): string {
  const text = url ?? DEFAULT_GATEWAY_URL
  const shown = withoutCredentials(text)
  let parsed: URL
  try {
    parsed = new URL(text)
  } catch {
    throw new CliError(`--url: expected the gateway's root URL (e.g. ${DEFAULT_GATEWAY_URL}), got "${shown}"`, 2)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new CliError(`--url: expected an http(s) URL, got "${shown}"`, 2)
  if (parsed.username !== '' || parsed.password !== '') throw new CliError(`--url: no credentials in the URL, got "${shown}"; the admin token is read from ${ADMIN_TOKEN_ENV}`, 2)
  if (/[?#]/.test(text)) throw new CliError(`--url: the gateway's root URL takes no query or fragment, got "${shown}"`, 2)
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '').replace(/\/v1$/i, '')}`
}

/**
 * One admin API call: `Authorization: Bearer <token>`, a JSON body when given, the JSON answer back.
 * Every failure is a {@link CliError} that says what to do: the gateway is unreachable, the admin API
 * is off, the token was refused, or the gateway refused the request (its message passed on).
 */
export async function adminRequest<T>(baseUrl: string, token: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const url = `${baseUrl}${path}`
  let response: Response
  try {
    response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    })
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause
    const why = (err as Error).name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s` : (cause?.code ?? cause?.message ?? (err as Error).message)
    throw new CliError(`cannot reach the gateway at ${baseUrl} (${why}); is it running, and does --url name it?`)
  }
  const text = await response.text()
  let answer: unknown
  try {
    answer = JSON.parse(text)
  } catch {
    answer = undefined
  }
  if (response.ok && answer !== undefined) return answer as T
  const error = (answer as { error?: { message?: unknown; code?: unknown } } | undefined)?.error
  const said = typeof error?.message === 'string' ? error.message : text.slice(0, 200)
  if (response.status === 401) throw new CliError(`the gateway at ${baseUrl} refused the admin token (${String(error?.code ?? 401)}): ${ADMIN_TOKEN_ENV} must be its admin.token`)
  // Without admin.token the admin routes do not exist: the gateway's catch-all 404 (code not_found) answers.
  if (response.status === 404 && error?.code === 'not_found') throw new CliError(`the admin API is off at ${baseUrl} (404: ${said}); it is on when the gateway's config sets admin.token`)
  if (response.ok) throw new CliError(`${method} ${url} answered ${response.status} with something that is not JSON: ${text.slice(0, 200)}`)
  throw new CliError(`${method} ${url} answered ${response.status}: ${said}`)
}
