import type { Random } from './random.js'

/** One generated request: sent with undici, or byte for byte on a socket when `raw` is set. */
export interface FuzzRequest {
  /** What was generated, for a failure message. */
  label: string
  method: string
  path: string
  headers: Record<string, string>
  body?: Buffer
  raw?: Buffer
}

const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']
const LLM_PATHS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'] as const
const ODD_PATHS = [
  '/v1/chat/completions/',
  '/v1//chat/completions',
  '//v1/chat/completions',
  '/V1/Chat/Completions',
  '/v1/chat/completions?stream=true&x[]=1',
  '/v1/chat%2fcompletions',
  '/v1/chat%2Fcompletions',
  '/v1/%2e%2e/admin',
  '/v1/../admin',
  '/v1/./chat/completions',
  '/v1/files',
  '/v1/files/file-1?purpose=x',
  '/v1/files/../../admin',
  '/v1/files/%2e%2e%2fadmin',
  '/v1/files/..%2f..%2fadmin',
  '/v1/files\\..\\admin',
  '/v1/files/%5c..%5cadmin',
  '/v1/files/%zz',
  '/v1/files/%00',
  '/v1/models',
  '/v1/models/gpt-4o-mini',
  '/v1/',
  '/v1',
  '/healthz',
  '/healthz/',
  '/',
  '/admin',
  '/v1/chat/completions#fragment',
  '/v1/%F0%9F%92%A9',
  '/v1/chat/completions;x',
  '/v1/chat/completions.',
  '/v1/chat/completions%20',
  '/v1/chat/completions%09',
  '/v1/%63hat/completions',
  '/%761/chat/completions',
]
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']
const WRONG_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, 1e308, -1e308, '', 'x', '0', [], {}, [null], [[]], { a: { b: {} } }, '__proto__', 'constructor', 'NaN', 'Infinity']
const FIELDS = ['model', 'messages', 'prompt', 'input', 'stream', 'stream_options', 'temperature', 'top_p', 'max_tokens', 'max_completion_tokens', 'n', 'user', 'tools', 'tool_choice', 'response_format', 'logit_bias', 'stop', 'seed', 'presence_penalty']
const MODELS = ['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small', 'unknown-model', '../../admin', '..', '', 'a'.repeat(300), 'gpt-4o-mini\u0000', 'модель', ...PROTOTYPE_NAMES]
const MARKERS = [
  '[fail:500]',
  '[fail:503]',
  '[fail:429]',
  '[fail:400]',
  '[fail:404]',
  '[garbage:html]',
  '[garbage:null]',
  '[garbage:error]',
  '[garbage:empty]',
  '[garbage:string]',
  '[garbage:array]',
  '[truncate]',
  '[nofinish]',
  '[junk]',
  '[data-null]',
  '[stall-body]',
  '[stall-stream]',
  '[endless]',
  '[huge:2]',
  '[huge-error:1]',
  '[slow:30]',
  '[tools]',
  '[reasoning]',
  '[big:20000]',
  '[nousage]',
  '[rich]',
  '[objects:20]',
  '[objects-stream:20]',
  '[status:600]',
  '[logprobs:300]',
]

function baseBody(random: Random, path: string): Record<string, unknown> {
  const content = `${random.string(random.int(1, 40))} ${random.chance(0.3) ? random.pick(MARKERS) : ''}`
  if (path.endsWith('/embeddings')) return { model: 'text-embedding-3-small', input: random.chance(0.5) ? content : [content, random.string(8)] }
  if (path.endsWith('/v1/completions')) return { model: 'gpt-4o-mini', prompt: content, ...(random.chance(0.4) ? { stream: true } : {}) }
  return {
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content }],
    ...(random.chance(0.4) ? { stream: true } : {}),
    ...(random.chance(0.2) ? { stream_options: { include_usage: random.chance(0.5) } } : {}),
    ...(random.chance(0.2) ? { max_tokens: random.int(1, 4000) } : {}),
  }
}

/** A JSON value nested `depth` levels deep (arrays or objects). */
function deep(random: Random, depth: number): unknown {
  let value: unknown = random.string(3)
  const objects = random.chance(0.5)
  for (let i = 0; i < depth; i++) value = objects ? { a: value } : [value]
  return value
}

function mutate(random: Random, body: Record<string, unknown>): string {
  const mutation = random.int(0, 7)
  const candidate: unknown = Array.isArray(body.messages) ? body.messages[0] : undefined
  // An earlier mutation may have left anything in messages.
  const first = candidate !== null && typeof candidate === 'object' && !Array.isArray(candidate) ? (candidate as Record<string, unknown>) : undefined
  switch (mutation) {
    case 0:
      body[random.pick(FIELDS)] = random.pick(WRONG_VALUES)
      return 'a field of the wrong type'
    case 1: {
      const name = random.pick(PROTOTYPE_NAMES)
      const target = first && random.chance(0.5) ? first : body
      target[name] = random.chance(0.5) ? { polluted: true } : random.pick(WRONG_VALUES)
      return `a ${name} key`
    }
    case 2: {
      const size = random.pick([10_000, 200_000, 1_000_000, 5_000_000])
      if (first) first.content = random.string(size)
      else body.input = random.string(size)
      return `a string of ${size} characters`
    }
    case 3: {
      const depth = random.pick([20, 63, 64, 65, 200, 3_000])
      if (first) first.content = deep(random, depth)
      else body[random.pick(FIELDS)] = deep(random, depth)
      return `JSON ${depth} levels deep`
    }
    case 4: {
      const count = random.pick([0, 1, 500, 5_000])
      body.messages = Array.from({ length: count }, () => ({ role: random.pick(['user', 'system', 'assistant', 'tool', 'nobody', '__proto__']), content: random.string(5) }))
      return `${count} messages`
    }
    case 5:
      body.model = random.pick(MODELS)
      return `model ${JSON.stringify(body.model).slice(0, 40)}`
    case 6:
      if (first) {
        first.content = [
          { type: 'text', text: random.string(10) },
          { type: 'image_url', image_url: random.chance(0.5) ? { url: 'data:image/png;base64,AAAA', detail: random.pick(['low', 'high', 'auto', 7]) } : random.pick(WRONG_VALUES) },
          random.pick(WRONG_VALUES),
        ]
      }
      return 'odd content parts'
    default:
      body.n = random.pick([1, 2, 128, -1, 1e9])
      return `n = ${String(body.n)}`
  }
}

function malformedJson(random: Random): [Buffer, string] {
  const text = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: random.string(20) }] })
  switch (random.int(0, 7)) {
    case 0:
      return [Buffer.from(text.slice(0, random.int(0, text.length - 1))), 'truncated JSON']
    case 1:
      return [Buffer.from(`${text}${random.string(5)}`), 'JSON with trailing garbage']
    case 2:
      return [Buffer.concat([Buffer.from(text.slice(0, 40)), random.bytes(random.int(1, 200)), Buffer.from(text.slice(40))]), 'invalid UTF-8 in the body']
    case 3:
      return [Buffer.from(random.pick(['[]', '"a string"', '42', 'null', 'true', '[{"model":"gpt-4o-mini"}]'])), 'JSON that is not an object']
    case 4:
      return [Buffer.alloc(0), 'an empty body']
    case 5:
      return [random.bytes(random.int(1, 2_000)), 'random bytes']
    case 6:
      return [Buffer.from(`${'['.repeat(100_000)}${']'.repeat(100_000)}`), 'brackets 100,000 deep']
    default:
      return [Buffer.from(text.replace('"model"', '"model","model"')), 'a broken duplicate key']
  }
}

const CACHE_HEADERS: Array<[string, string[]]> = [
  ['cache-control', ['no-cache', 'no-store', 'max-age=0', 'max-age=-1', 'max-age=abc', 'max-age=99999999999999999999', 'no-cache, no-store', 'private, max-age=5', ',,,', 'max-age']],
  ['x-tollgate-cache-ttl', ['0', '-1', 'abc', '1e9', '99999999999999', '5s', '10m', '', '1.5', '40d']],
  ['x-tollgate-cache-namespace', ['shared', 'unknown', '__proto__', 'constructor', 'a'.repeat(500), '', ' ', 'x y', '../x']],
  ['x-tollgate-cache-tags', ['a', 'a,b,c', ',,,', 'x'.repeat(2_000), Array.from({ length: 500 }, (_, i) => `t${i}`).join(','), '__proto__']],
  ['x-tollgate-user', ['alice', '', '__proto__', 'u'.repeat(5_000)]],
]

function abusiveHeaders(random: Random, headers: Record<string, string>): string {
  const what = random.int(0, 4)
  if (what === 0) {
    for (const [name, values] of CACHE_HEADERS) if (random.chance(0.5)) headers[name] = random.pick(values)
    return 'random cache headers'
  }
  if (what === 1) {
    headers.authorization = random.pick(['', 'Bearer', 'Bearer ', 'Basic abc', `Bearer ${'k'.repeat(10_000)}`, 'bearer key-a1', 'Bearer key-a1 extra', 'Bearer key-zz'])
    return 'an odd authorization'
  }
  if (what === 2) {
    headers['content-type'] = random.pick(['text/plain', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/jsonx', 'application/*', ''])
    return `content-type ${headers['content-type']}`
  }
  if (what === 3) {
    for (let i = 0; i < random.int(50, 300); i++) headers[`x-fuzz-${i}`] = random.string(random.int(1, 100))
    return 'hundreds of headers'
  }
  headers['x-big'] = random.string(random.pick([4_000, 15_000, 40_000]))
  return `a header of ${headers['x-big'].length} characters`
}

function malformedHttp(random: Random, key: string): [Buffer, string] {
  const body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
  const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\n`
  const cases: Array<[string, string]> = [
    ['GARBAGE\r\n\r\n', 'not HTTP'],
    [`POST /v1/chat/completions HTTP/9.9\r\nHost: x\r\n\r\n`, 'a bad HTTP version'],
    [`${head}Content-Length: -1\r\n\r\n${body}`, 'a negative Content-Length'],
    [`${head}Content-Length: abc\r\n\r\n${body}`, 'a Content-Length that is not a number'],
    [`${head}Content-Length: 5\r\nContent-Length: 6\r\n\r\n${body}`, 'two Content-Lengths'],
    [`${head}Transfer-Encoding: chunked\r\n\r\nzz\r\n${body}\r\n0\r\n\r\n`, 'a bad chunk size'],
    [`${head}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, 'Transfer-Encoding and Content-Length'],
    [`${head}No colon here\r\n\r\n`, 'a header without a colon'],
    [`${head}X-A: b\nX-Injected: c\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 'a bare LF in the headers'],
    [`${head}Content-Length: ${body.length + 50}\r\n\r\n${body}`, 'a body shorter than its Content-Length'],
    [`${random.pick(['TRACE', 'PROPFIND', 'QUERY', 'SEARCH', 'BREW', 'CONNECT'])} /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n`, 'an odd method'],
    [`POST http://x/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 'an absolute-form target without a key'],
    [`${head}Content-Length: ${body.length * 2}\r\n\r\n${`{"model":"gpt-4o-mini","x":[${'{},'.repeat(body.length / 3)}{}]}`.slice(0, body.length * 2)}`, 'a body of empty objects'],
    [`GET /${'a'.repeat(random.pick([1_000, 20_000, 100_000]))} HTTP/1.1\r\nHost: x\r\n\r\n`, 'a very long URL'],
    [`GET /v1/models HTTP/1.1\r\n${'X-Pad: y\r\n'.repeat(2_000)}\r\n`, 'thousands of header lines'],
    [`${head}Content-Length: ${body.length}\r\n\r\n${body}${head}Content-Length: 2\r\n\r\n{}`, 'two pipelined requests'],
  ]
  const [text, label] = random.pick(cases)
  return [Buffer.from(text, 'latin1'), label]
}

/** One random request of the fuzz suite; `keys` are valid gateway keys (most requests use one). */
export function fuzzRequest(random: Random, keys: readonly string[]): FuzzRequest {
  const key = random.pick(keys)
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (random.chance(0.9)) headers.authorization = `Bearer ${key}`
  const roll = random.next()
  if (roll < 0.1) {
    const [raw, label] = malformedHttp(random, key)
    return { label: `raw: ${label}`, method: 'RAW', path: '', headers: {}, raw }
  }
  if (roll < 0.25) {
    const method = random.pick(METHODS)
    const path = random.chance(0.8) ? random.pick(ODD_PATHS) : `/v1/${random.string(random.int(1, 30), 'abc/%.-_~+')}`
    const body = method === 'GET' || method === 'HEAD' ? undefined : Buffer.from(JSON.stringify(baseBody(random, '/v1/chat/completions')))
    return { label: `${method} ${path}`, method, path, headers, ...(body ? { body } : {}) }
  }
  const path = random.pick(LLM_PATHS)
  if (roll < 0.35) {
    const [body, label] = malformedJson(random)
    return { label: `${path}: ${label}`, method: 'POST', path, headers, body }
  }
  const body = baseBody(random, path)
  let label = 'a valid request'
  if (roll < 0.7) label = Array.from({ length: random.int(1, 3) }, () => mutate(random, body)).join(', ')
  else if (roll < 0.85) label = abusiveHeaders(random, headers)
  return { label: `${path}: ${label}`, method: 'POST', path, headers, body: Buffer.from(JSON.stringify(body)) }
}
