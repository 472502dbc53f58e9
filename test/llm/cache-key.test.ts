import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { requestCacheKey } from '../../src/llm/canonical.js'

const key = (body: Record<string, unknown>, model = 'm') => requestCacheKey('/chat/completions', body, model)

describe('request cache key', () => {
  it('ignores field order and the transport fields, not the rest', () => {
    const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 0 }
    assert.equal(key(base), key({ temperature: 0, messages: [{ content: 'hi', role: 'user' }], model: 'm', stream: true, user: 'u', stream_options: { include_usage: true } }))
    assert.notEqual(key(base), key({ ...base, temperature: 1 }))
    assert.notEqual(key(base), key({ ...base, unknown_parameter: 1 }))
  })

  it('keeps values apart that a naive concatenation would run together', () => {
    const pairs: Array<[unknown, unknown]> = [
      ['a', ['a']],
      ['1', 1],
      [true, 'true'],
      [null, 'null'],
      [['ab', 'c'], ['a', 'bc']],
      [{ a: 'b' }, ['a', 'b']],
      ['s1:x', 'x'],
      ['\ud800', '\udbff'],
      ['\ud800', '\ufffd'],
    ]
    for (const [a, b] of pairs) assert.notEqual(key({ messages: a }), key({ messages: b }), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`)
  })

  it('takes a __proto__ key as a key, and resolves the model given', () => {
    const polluted = JSON.parse('{"messages":[],"__proto__":{"x":1}}') as Record<string, unknown>
    assert.notEqual(key(polluted), key({ messages: [] }))
    assert.equal(key({ model: 'alias', messages: [] }, 'real'), key({ model: 'real', messages: [] }, 'real'))
  })

  it('refuses nesting past 1,000 levels instead of overflowing the stack', () => {
    let deep: unknown = 'x'
    for (let i = 0; i < 5_000; i++) deep = [deep]
    assert.throws(() => key({ messages: deep }), { code: 'E_TOO_DEEP' })
  })
})
