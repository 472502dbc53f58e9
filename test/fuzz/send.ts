import { connect } from 'node:net'
import { Pool } from 'undici'
import type { FuzzRequest } from './requests.js'

/** What came back for one request: each response's status and (the start of) its body, or why none came. */
export interface FuzzOutcome {
  responses: Array<{ status: number; body: string }>
  /** Set when nothing came back in time (a hang), or the client could not send the request at all. */
  error?: string
  /** The client refused to send it (an invalid header for undici): not a gateway finding. */
  unsent?: boolean
}

/** Longest wait for any answer: far above the slowest hostile case (an upstream stall of 2 s, retried once). */
const ANSWER_MS = 30_000
/** Enough of a body to judge it; an endless stream is cut by the gateway, but a client need not read it all. */
const KEEP_BYTES = 64 * 1024

export class FuzzSender {
  readonly #pool: Pool
  readonly #origin: URL

  constructor(url: string) {
    this.#origin = new URL(url)
    this.#pool = new Pool(url, { connections: 16, headersTimeout: ANSWER_MS, bodyTimeout: ANSWER_MS })
  }

  send(request: FuzzRequest): Promise<FuzzOutcome> {
    return request.raw ? this.#raw(request.raw) : this.#http(request)
  }

  close(): Promise<void> {
    return this.#pool.close()
  }

  async #http(request: FuzzRequest): Promise<FuzzOutcome> {
    let response: Awaited<ReturnType<Pool['request']>>
    try {
      response = await this.#pool.request({ method: request.method as 'POST', path: request.path, headers: request.headers, body: request.body })
    } catch (err) {
      const code = (err as { code?: string }).code ?? ''
      // undici checks headers and paths before sending: those never reached the gateway.
      if (code === 'UND_ERR_INVALID_ARG' || code === 'ERR_INVALID_CHAR' || code === 'ERR_INVALID_URL') return { responses: [], unsent: true }
      // The gateway may close a connection it refuses (a request too large): a status was not owed then.
      if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE') return { responses: [] }
      return { responses: [], error: `${code}: ${(err as Error).message}` }
    }
    const chunks: Buffer[] = []
    let kept = 0
    try {
      for await (const chunk of response.body) {
        if (kept < KEEP_BYTES) chunks.push(chunk as Buffer)
        kept += (chunk as Buffer).byteLength
        if (kept > KEEP_BYTES * 32) {
          response.body.destroy()
          break
        }
      }
    } catch (err) {
      return { responses: [{ status: response.statusCode, body: Buffer.concat(chunks).toString() }], error: `the body broke off: ${(err as Error).message}` }
    }
    return { responses: [{ status: response.statusCode, body: Buffer.concat(chunks).toString() }] }
  }

  /** Writes the bytes, half-closes, and reads until the gateway closes: it must answer or close, never hang. */
  #raw(bytes: Buffer): Promise<FuzzOutcome> {
    return new Promise((resolve) => {
      let text = ''
      const socket = connect(Number(this.#origin.port), this.#origin.hostname, () => socket.end(bytes))
      const timer = setTimeout(() => {
        socket.destroy()
        resolve({ responses: parseResponses(text), error: `the connection was neither answered nor closed within ${ANSWER_MS} ms` })
      }, ANSWER_MS)
      socket.on('data', (chunk: Buffer) => {
        if (text.length < KEEP_BYTES) text += chunk.toString('latin1')
      })
      socket.on('error', () => {})
      socket.on('close', () => {
        clearTimeout(timer)
        resolve({ responses: parseResponses(text) })
      })
    })
  }
}

function parseResponses(text: string): FuzzOutcome['responses'] {
  return [...text.matchAll(/HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/g)].map((match) => ({ status: Number(match[1]), body: text.slice((match.index ?? 0) + match[0].length) }))
}
