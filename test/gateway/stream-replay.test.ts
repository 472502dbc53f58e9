import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { useGateway } from './helpers.js'

/** The data payloads of a raw SSE body, checking the framing on the way: every event `data: ...\n\n`. */
function events(raw: string): string[] {
  assert.ok(raw.endsWith('\n\n'), 'the stream ends with a complete event')
  return raw
    .trimEnd()
    .split('\n\n')
    .map((event) => {
      assert.match(event, /^data: /, `malformed event: ${event.slice(0, 80)}`)
      return event.slice(6)
    })
}

describe('stream record and replay', () => {
  const env = useGateway()

  it('a replayed stream is byte-valid SSE: role chunk, content, finish, usage when asked, [DONE]', async () => {
    const request = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'replay framing' }], stream: true, stream_options: { include_usage: true } }
    const live = events(await (await env.gw.post('/v1/chat/completions', request)).text())
    const response = await env.gw.post('/v1/chat/completions', request)
    assert.equal(response.headers.get('x-tollgate-cache'), 'HIT')
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/)
    const replayed = events(await response.text())
    assert.equal(replayed.at(-1), '[DONE]')
    const chunks = replayed.slice(0, -1).map((data) => JSON.parse(data))
    assert.equal(chunks[0].choices[0].delta.role, 'assistant')
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'echo replay framing t=none')
    assert.equal(chunks.at(-2).choices[0].finish_reason, 'stop')
    assert.deepEqual(chunks.at(-1).choices, [])
    assert.deepEqual(chunks.at(-1).usage, JSON.parse(live.at(-2) as string).usage, 'the usage chunk replays what upstream reported')
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id))
  })

  it('without include_usage, neither the live nor the replayed stream carries usage', async () => {
    const request = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'no usage please' }], stream: true }
    for (const cache of ['MISS', 'HIT']) {
      const response = await env.gw.post('/v1/chat/completions', request)
      assert.equal(response.headers.get('x-tollgate-cache'), cache)
      const chunks = events(await response.text()).slice(0, -1).map((data) => JSON.parse(data))
      assert.ok(chunks.every((c) => !('usage' in c) && c.choices.length === 1), `${cache}: no usage chunk or field`)
    }
  })

  it('one entry serves both: a streamed reply answers a non-stream request, and the other way round', async () => {
    const client = env.gw.client()
    const messages = [{ role: 'user' as const, content: 'both ways' }]
    const streamed = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true })
    for await (const chunk of streamed) void chunk
    const plain = await client.chat.completions.create({ model: 'gpt-4o-mini', messages }).withResponse()
    assert.equal(plain.response.headers.get('x-tollgate-cache'), 'HIT')
    assert.equal(plain.data.choices[0]?.message.content, 'echo both ways t=none')
    assert.equal(plain.data.object, 'chat.completion')

    const other = [{ role: 'user' as const, content: 'other way' }]
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: other })
    const { data: stream, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: other, stream: true }).withResponse()
    let text = ''
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ''
    assert.deepEqual([response.headers.get('x-tollgate-cache'), text], ['HIT', 'echo other way t=none'])
  })

  it('tool calls and reasoning_content survive the round trip through the cache', async () => {
    const client = env.gw.client()
    const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'use a tool [tools]' }], stream: true as const }
    for await (const chunk of await client.chat.completions.create(ask)) void chunk
    const cached = await client.chat.completions.create({ ...ask, stream: false })
    assert.deepEqual(cached.choices[0]?.message.tool_calls, [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }])
    assert.equal(cached.choices[0]?.finish_reason, 'tool_calls')
    const replay = await client.chat.completions.create(ask)
    const final = await replay.toReadableStream().getReader().read()
    assert.ok(final.value, 'the replay streams')

    const think = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'think [reasoning]' }] }
    await client.chat.completions.create({ ...think, stream: true }).then(async (s) => {
      for await (const chunk of s) void chunk
    })
    const plain = (await client.chat.completions.create(think)) as unknown as { choices: Array<{ message: { reasoning_content?: string } }> }
    assert.equal(plain.choices[0]?.message.reasoning_content, 'thinking about it')
    const raw = await (await env.gw.post('/v1/chat/completions', { ...think, stream: true })).text()
    assert.ok(events(raw).some((data) => data.includes('"reasoning_content":"thinking about it"')))
  })

  it('a truncated upstream stream reaches the client as it was and is not cached', async () => {
    const request = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'cut me off [truncate]' }], stream: true }
    env.upstream.reset()
    const first = await (await env.gw.post('/v1/chat/completions', request)).text()
    assert.ok(!first.includes('[DONE]') && first.includes('echo'), 'the client got the partial stream')
    const second = await env.gw.post('/v1/chat/completions', request)
    assert.equal(second.headers.get('x-tollgate-cache'), 'MISS')
    await second.text()
    assert.equal(env.upstream.calls['/v1/chat/completions'], 2)
  })

  it('legacy completions stream and replay too', async () => {
    const request = { model: 'gpt-4o-mini', prompt: 'legacy stream', stream: true }
    await (await env.gw.post('/v1/completions', request)).text()
    const response = await env.gw.post('/v1/completions', request)
    assert.equal(response.headers.get('x-tollgate-cache'), 'HIT')
    const chunks = events(await response.text()).slice(0, -1).map((d) => JSON.parse(d))
    assert.equal(chunks.map((c) => c.choices[0].text).join(''), 'echo legacy stream t=none')
  })
})

describe('a stream-assembled entry answers a JSON request with every field the provider sends', () => {
  const env = useGateway()
  const without = (reply: Record<string, unknown>) => {
    const { id: _id, usage: _usage, ...rest } = reply
    return rest
  }

  for (const marker of ['[rich]', '[function]', '[tools]']) {
    it(`${marker}: logprobs, audio, annotations, function_call, tool calls and provider fields survive`, async () => {
      const request = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `every field ${marker}` }], logprobs: true }
      const streamed = await env.gw.post('/v1/chat/completions', { ...request, stream: true })
      assert.equal(streamed.headers.get('x-tollgate-cache'), 'MISS')
      await streamed.text()
      const fromStream = await env.gw.post('/v1/chat/completions', request)
      assert.equal(fromStream.headers.get('x-tollgate-cache'), 'HIT')
      const direct = await env.gw.post('/v1/chat/completions', request, { 'cache-control': 'no-store' })
      assert.deepEqual(without((await fromStream.json()) as Record<string, unknown>), without((await direct.json()) as Record<string, unknown>))
    })
  }

  it('the other way: a JSON reply replayed to the openai SDK’s stream keeps its logprobs and audio', async () => {
    const request = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'json first [rich]' }], logprobs: true }
    const json = await env.gw.client().chat.completions.create(request)
    const stream = await env.gw.client().chat.completions.create({ ...request, stream: true })
    const tokens: string[] = []
    const audio: string[] = []
    for await (const chunk of stream) {
      for (const item of chunk.choices[0]?.logprobs?.content ?? []) tokens.push(item.token)
      const data = (chunk.choices[0]?.delta as { audio?: { data?: string } } | undefined)?.audio?.data
      if (data) audio.push(data)
    }
    assert.deepEqual(tokens, json.choices[0]!.logprobs!.content!.map((item) => item.token))
    assert.equal(audio.join(''), (json.choices[0]!.message as { audio?: { data: string } }).audio!.data)
  })
})

describe('a stream that did not finish is never passed off as whole', () => {
  const env = useGateway()

  it('an upstream [DONE] without every finish_reason: the client gets an error event and no [DONE]; the SDK raises', async () => {
    const request = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'cut but claims done [nofinish]' }], stream: true }
    const text = await (await env.gw.post('/v1/chat/completions', request)).text()
    assert.doesNotMatch(text, /\[DONE\]/)
    const last = JSON.parse(events(text).at(-1) as string) as { error: { code: string } }
    assert.equal(last.error.code, 'upstream_incomplete')
    const stream = await env.gw.client().chat.completions.create({ ...request, messages: [{ role: 'user', content: 'sdk sees it [nofinish]' }], stream: true })
    await assert.rejects(async () => {
      for await (const _chunk of stream) void _chunk
    }, /upstream_incomplete|stream ended/)
  })

  it('keep-alive `{}` and other non-chunks are not relayed', async () => {
    const text = await (await env.gw.post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'junk in between [junk]' }], stream: true })).text()
    assert.ok(events(text).every((data) => data === '[DONE]' || Array.isArray((JSON.parse(data) as { choices?: unknown }).choices)))
    assert.ok(text.endsWith('data: [DONE]\n\n'))
  })
})
