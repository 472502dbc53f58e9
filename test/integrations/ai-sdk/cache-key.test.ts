import assert from 'node:assert/strict'
import { it } from 'node:test'
import { callCacheKey, type CallParams, type ModelCall } from '../../../src/integrations/ai-sdk/index.js'

const model = { specificationVersion: 'v3', provider: 'openai.chat', modelId: 'gpt-4o' }
const keyOf = (params: Partial<CallParams>, overrides: Partial<ModelCall> = {}) => callCacheKey({ params: { prompt: [], ...params }, model, type: 'generate', ...overrides })
const image = (bytes: number[]) => [{ role: 'user', content: [{ type: 'file', mediaType: 'image/png', data: new Uint8Array(bytes) }] }]

it('file bytes and URLs in a prompt are keyed by their content', () => {
  assert.equal(keyOf({ prompt: image([1, 2, 3]) }), keyOf({ prompt: image([1, 2, 3]) }))
  assert.notEqual(keyOf({ prompt: image([1, 2, 3]) }), keyOf({ prompt: image([1, 2, 4]) }))
  const url = (href: string) => [{ role: 'user', content: [{ type: 'file', mediaType: 'image/png', data: new URL(href) }] }]
  assert.notEqual(keyOf({ prompt: url('https://example.com/a.png') }), keyOf({ prompt: url('https://example.com/b.png') }))
})

it('the key does not depend on the order of keys, and does depend on the model and the kind of call', () => {
  assert.equal(keyOf({ temperature: 0, seed: 1 }), keyOf({ seed: 1, temperature: 0 }))
  assert.notEqual(keyOf({}), keyOf({}, { model: { ...model, modelId: 'gpt-4o-mini' } }))
  assert.notEqual(keyOf({}), keyOf({}, { model: { ...model, specificationVersion: 'v4' } }), 'answers of two specification versions never mix')
  assert.notEqual(keyOf({}), keyOf({}, { type: 'stream' }))
})

it('a prompt nested past the bound is refused, not walked (the middleware then calls the model uncached)', () => {
  let deep: unknown = 'bottom'
  for (let i = 0; i < 2_000; i++) deep = [deep]
  assert.throws(() => keyOf({ prompt: deep }), { code: 'E_TOO_DEEP' })
})
