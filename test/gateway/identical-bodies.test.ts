import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { hashKey } from '../../src/index.js'
import { ParsedBodies } from '../../src/gateway/parsed-bodies.js'
import { memoisedRequestCacheKey, requestCacheKey } from '../../src/llm/canonical.js'
import { useGateway } from './helpers.js'

const text = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'same bytes' }] })

describe('a body sent again byte for byte (parsed once, per tenant)', () => {
  it('hands the same tenant the same object, frozen at every depth', () => {
    const bodies = new ParsedBodies(1024 * 1024)
    const body = JSON.parse(text) as { messages: Array<{ content: string }> }
    bodies.remember(text, 'acme', body)
    assert.equal(bodies.get(text, 'acme'), body)
    assert.ok(Object.isFrozen(body) && Object.isFrozen(body.messages) && Object.isFrozen(body.messages[0]))
    assert.throws(() => {
      ;(body.messages[0] as { content: string }).content = 'changed'
    }, TypeError)
    assert.deepEqual(bodies.memoOf(body), { validatedAs: undefined, keys: new Map() })
    assert.equal(bodies.memoOf(JSON.parse(text)), undefined, 'an object it did not hand out has no memo')
  })

  it('never hands one tenant the body another tenant sent, and never lets it replace that tenant\'s', () => {
    const bodies = new ParsedBodies(1024 * 1024)
    const acme = JSON.parse(text) as object
    bodies.remember(text, 'acme', acme)
    assert.equal(bodies.get(text, 'globex'), undefined)
    const globex = JSON.parse(text) as object
    bodies.remember(text, 'globex', globex)
    assert.equal(bodies.get(text, 'acme'), acme, 'how fast acme is served says nothing of what globex sent')
    assert.equal(bodies.get(text, 'globex'), globex)
    assert.equal(bodies.get(`${text} `, 'acme'), undefined, 'one byte more is another body')
  })

  it('is bounded: a body over a 32nd of its memory is not kept, and the oldest go first', () => {
    const bodies = new ParsedBodies(64 * 1024)
    const big = JSON.stringify({ model: 'm', prompt: 'x'.repeat(1024) })
    bodies.remember(big, 'acme', JSON.parse(big) as object)
    assert.equal(bodies.get(big, 'acme'), undefined, 'a 2 KiB body in 64 KiB')
    const texts = Array.from({ length: 200 }, (_, i) => JSON.stringify({ model: 'm', prompt: `p${i}`.padEnd(200, '.') }))
    for (const each of texts) bodies.remember(each, 'acme', JSON.parse(each) as object)
    assert.equal(bodies.get(texts[0] as string, 'acme'), undefined, 'the oldest went')
    assert.ok(bodies.get(texts[199] as string, 'acme'), 'the newest stayed')
  })

  it('freezes a body nested far deeper than any stack (it runs before the depth check)', () => {
    let deep: unknown[] = []
    const root = deep
    for (let i = 0; i < 200_000; i++) {
      const next: unknown[] = []
      deep.push(next)
      deep = next
    }
    const bodies = new ParsedBodies(1024 * 1024 * 1024)
    bodies.remember('[[...]]', 'acme', root)
    assert.ok(Object.isFrozen(deep))
    assert.equal(bodies.get('[[...]]', 'acme'), root)
    const small = new ParsedBodies(1024 * 1024)
    small.remember('[[...]]', 'acme', JSON.parse(`${'['.repeat(5_000)}${']'.repeat(5_000)}`) as object)
    assert.equal(small.get('[[...]]', 'acme'), undefined, 'counted at what its objects hold, not its 7 bytes of text')
  })

  it('memoises keys by model and partition without two pairs sharing an id', () => {
    const body = JSON.parse(text) as Record<string, unknown>
    const memo = new Map<string, string>()
    const a = memoisedRequestCacheKey(memo, '/chat/completions', body, 'a\nb')
    const b = memoisedRequestCacheKey(memo, '/chat/completions', body, 'a', 'b')
    assert.notEqual(a, b)
    assert.equal(a, requestCacheKey('/chat/completions', body, 'a\nb'))
    assert.equal(b, requestCacheKey('/chat/completions', body, 'a', 'b'))
    assert.equal(memoisedRequestCacheKey(memo, '/chat/completions', body, 'a', 'b'), b)
    for (let i = 0; i < 100; i++) memoisedRequestCacheKey(memo, '/chat/completions', body, 'm', `user-${i}`)
    assert.ok(memo.size <= 16, 'bounded however many end users send the same bytes')
  })
})

describe('identical bodies through the gateway', () => {
  const keys = [
    { name: 'a', hash: hashKey('key-a'), tenant: 'acme' },
    { name: 'g', hash: hashKey('key-g'), tenant: 'globex' },
  ]
  const env = useGateway({ auth: 'keys', keys })
  const send = async (path: string, body: string, key = 'key-a') => {
    const response = await env.gw.post(path, body, { authorization: `Bearer ${key}` })
    return { status: response.status, cache: response.headers.get('x-tollgate-cache'), body: (await response.json()) as { error?: { param?: string } } }
  }

  it('checks the same bytes again for each route they are sent to', async () => {
    assert.equal((await send('/v1/chat/completions', text)).status, 200)
    const asEmbeddings = await send('/v1/embeddings', text)
    assert.equal(asEmbeddings.status, 400)
    assert.equal(asEmbeddings.body.error?.param, 'input')
    assert.equal((await send('/v1/chat/completions', text)).cache, 'HIT')
  })

  it('refuses a bad body every time it comes, not only the first', async () => {
    const bad = JSON.stringify({ model: 'gpt-4o-mini', messages: [], temperature: 9 })
    for (let i = 0; i < 3; i++) assert.equal((await send('/v1/chat/completions', bad)).status, 400)
    const poisoned = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"__proto__":{"admin":true}}'
    for (let i = 0; i < 2; i++) assert.equal((await send('/v1/chat/completions', poisoned)).status, 400)
  })

  it('keeps tenants apart for the same bytes', async () => {
    const shared = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'two tenants' }] })
    assert.equal((await send('/v1/chat/completions', shared, 'key-a')).cache, 'MISS')
    assert.equal((await send('/v1/chat/completions', shared, 'key-g')).cache, 'MISS')
    assert.equal((await send('/v1/chat/completions', shared, 'key-g')).cache, 'HIT')
  })

  it('sends a remembered body upstream as it came when streamed (the stream gets a copy)', async () => {
    const streamed = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'stream me' }] })
    for (let i = 0; i < 2; i++) {
      const response = await env.gw.post('/v1/chat/completions', streamed, { authorization: 'Bearer key-a' })
      assert.equal(response.status, 200)
      assert.match(await response.text(), /data: \[DONE\]/)
    }
  })
})

describe('server.bodyMemoBytes: 0', () => {
  const env = useGateway({ server: { port: 0, shutdownTimeout: '5s', bodyMemoBytes: 0 } })
  it('parses every body and still serves hits', async () => {
    for (const expected of ['MISS', 'HIT']) {
      const response = await env.gw.post('/v1/chat/completions', text)
      await response.text()
      assert.equal(response.headers.get('x-tollgate-cache'), expected)
    }
  })
})
