import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { replayPayloads } from '../../src/llm/sse-replay.js'
import { type Completion, StreamAssembler } from '../../src/llm/stream-assembler.js'

const logprob = (token: string) => ({ token, logprob: -0.25, bytes: [...Buffer.from(token)], top_logprobs: [{ token, logprob: -0.25, bytes: null }] })

/** A reply with every field a naive assembler drops. */
const rich: Completion = {
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4o-audio-preview',
  service_tier: 'default',
  system_fingerprint: 'fp_1',
  choices: [
    {
      index: 0,
      message: {
        role: 'assistant',
        content: 'Hello there',
        refusal: null,
        annotations: [{ type: 'url_citation', url_citation: { url: 'https://example.com', start_index: 0, end_index: 5, title: 't' } }],
        audio: { id: 'audio_1', data: 'UklGRgAAAAA=', expires_at: 1_700_000_000, transcript: 'Hello there' },
      },
      logprobs: { content: [logprob('Hello'), logprob(' there')], refusal: null },
      finish_reason: 'stop',
    },
    { index: 1, message: { role: 'assistant', content: null, function_call: { name: 'lookup', arguments: '{"q":"x"}' } }, logprobs: null, finish_reason: 'function_call' },
    {
      index: 2,
      message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'a', arguments: '{}' } }, { id: 'call_2', type: 'function', function: { name: 'b', arguments: '[1]' } }] },
      logprobs: null,
      finish_reason: 'tool_calls',
    },
  ],
  usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
}

function assemble(payloads: Iterable<string>, kind: 'chat' | 'text' = 'chat'): StreamAssembler {
  const assembler = new StreamAssembler(kind)
  for (const payload of payloads) assert.ok(assembler.add(payload), `a chunk: ${payload}`)
  return assembler
}

describe('stream assembly and replay keep every field', () => {
  it('a reply replayed as a stream assembles back into the same reply: logprobs, function_call, audio, annotations, provider fields', () => {
    const assembler = assemble(replayPayloads(rich, 'chat', true))
    assert.ok(assembler.complete)
    assert.deepEqual(assembler.result(), rich)
  })

  it('a provider’s stream in small pieces assembles like its non-streamed reply', () => {
    const head = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-audio-preview', service_tier: 'default', system_fingerprint: 'fp_1', obfuscation: 'pad' }
    const chunk = (choice: object) => JSON.stringify({ ...head, choices: [{ index: 0, logprobs: null, finish_reason: null, ...choice }] })
    const first = (rich.choices as Array<{ message: { annotations: unknown }; logprobs: { content: unknown[] } }>)[0]!
    const payloads = [
      chunk({ delta: { role: 'assistant', content: '', refusal: null, audio: { id: 'audio_1', expires_at: 1_700_000_000 } } }),
      chunk({ delta: { audio: { data: 'UklGRg' } } }),
      chunk({ delta: { audio: { data: 'AAAAA=', transcript: 'Hello there' } } }),
      chunk({ delta: { content: 'Hello' }, logprobs: { content: [first.logprobs.content[0]], refusal: null } }),
      chunk({ delta: { content: ' there' }, logprobs: { content: [first.logprobs.content[1]], refusal: null } }),
      chunk({ delta: { annotations: first.message.annotations } }),
      chunk({ delta: {}, finish_reason: 'stop' }),
      JSON.stringify({ ...head, choices: [], usage: rich.usage }),
      '[DONE]',
    ]
    const assembled = assemble(payloads).result()
    assert.deepEqual((assembled.choices as unknown[])[0], (rich.choices as unknown[])[0])
    assert.equal(assembled.service_tier, 'default')
    assert.equal('obfuscation' in assembled, false, 'stream-only padding is not part of the reply')
    assert.deepEqual(assembled.usage, rich.usage)
  })

  it('legacy completions keep their logprobs', () => {
    const text: Completion = {
      id: 'cmpl-1',
      object: 'text_completion',
      created: 1,
      model: 'gpt-3.5-turbo-instruct',
      choices: [{ index: 0, text: 'a b', logprobs: { tokens: ['a', ' b'], token_logprobs: [-1, -2], top_logprobs: [null, null], text_offset: [0, 1] }, finish_reason: 'length' }],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    }
    assert.deepEqual(assemble(replayPayloads(text, 'text', true), 'text').result(), text)
  })

  it('a payload that is not a chunk object is refused, not assembled', () => {
    const assembler = new StreamAssembler('chat')
    for (const payload of ['null', '"text"', '[1]', '{bad json', '42']) assert.equal(assembler.add(payload), false)
    assert.equal(assembler.complete, false)
  })
})
