import { UPSTREAM_FAILURES } from '../calls/failure-statuses.js'

/** The error body every OpenAI client parses: `{ error: { message, type, param, code } }`. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null }
}

/** An error the gateway answers with, in OpenAI's shape and with an HTTP status. */
export class GatewayHttpError extends Error {
  readonly status: number
  readonly type: string
  readonly code: string | null
  readonly param: string | null
  readonly headers: Record<string, string>

  constructor(status: number, message: string, options: { type?: string; code?: string; param?: string; headers?: Record<string, string> } = {}) {
    super(message)
    this.status = status
    this.type = options.type ?? (status >= 500 ? 'api_error' : 'invalid_request_error')
    this.code = options.code ?? null
    this.param = options.param ?? null
    this.headers = options.headers ?? {}
  }

  body(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } }
  }
}

export const badRequest = (message: string, param?: string) => new GatewayHttpError(400, message, { code: 'invalid_request', ...(param ? { param } : {}) })

/**
 * Fastify's own errors, in OpenAI's vocabulary: its `FST_ERR_*` codes are an implementation detail
 * clients must not come to depend on.
 */
const FASTIFY_CODES: Record<string, { code: string; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'request_too_large', message: 'The request body is larger than the gateway accepts.' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_json', message: 'The request body is empty; send a JSON object.' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'invalid_content_length' },
}

/** The OpenAI-shaped error for a failure the producer or Fastify reported (upstream status errors excepted). */
export function httpErrorOf(error: Error & { code?: string; statusCode?: number }): GatewayHttpError {
  if (error instanceof GatewayHttpError) return error
  const upstream = error.code ? UPSTREAM_FAILURES.get(error.code) : undefined
  if (upstream) return new GatewayHttpError(upstream.status, error.message, { code: upstream.code })
  if (error.code === 'E_MODEL_NOT_PRICED') return new GatewayHttpError(400, error.message, { code: 'model_not_priced', param: 'model' })
  const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
  if (status !== 500) {
    const known = error.code ? FASTIFY_CODES[error.code] : undefined
    const message = known?.message ?? (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ? `The request body is not valid JSON: ${error.message}` : error.message)
    return new GatewayHttpError(status, message, { code: known?.code ?? 'invalid_request' })
  }
  // Named, so an operator (and the client) can tell a store outage from a bug.
  const cause = error.code ? `${error.code}: ${error.message}` : error.name
  return new GatewayHttpError(500, `The gateway failed to handle the request (${cause}).`, { code: 'internal_error' })
}
