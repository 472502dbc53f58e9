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
