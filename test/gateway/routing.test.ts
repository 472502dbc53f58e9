import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { type RunningGateway, startGateway } from './helpers.js'

describe('routing, health and pass-through', () => {
  let openai: FakeUpstream
  let local: FakeUpstream
  let gw: RunningGateway
  before(async () => {
    ;[openai, local] = await Promise.all([startFakeUpstream(), startFakeUpstream()])
    gw = await startGateway(openai.url, {
      upstreams: [
        { name: 'local', baseUrl: local.url, models: ['llama-*', 'qwen*'], aliases: { fast: 'llama-3.1-8b' } },
        { name: 'openai', baseUrl: openai.url, apiKey: 'sk-upstream', models: ['gpt-*', 'text-embedding-*'] },
        // Azure style: the deployment in the path, the version in the query, the key in api-key.
        { name: 'azure', baseUrl: `${openai.url.replace('/v1', '')}/openai/deployments/{model}`, apiKeyHeader: 'api-key', apiKey: 'az', query: { 'api-version': '2024-10-21' }, models: ['az-*'] },
      ],
      passThrough: ['/v1/models/*', '/v1/audio/*'],
    })
  })
  after(async () => {
    await gw.close()
    await Promise.all([openai.close(), local.close()])
  })

  it('the model picks the upstream; an alias resolves before routing and shares entries with its target', async () => {
    const client = gw.client()
    await client.chat.completions.create({ model: 'qwen2.5', messages: [{ role: 'user', content: 'q' }] })
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'g' }] })
    assert.equal(local.calls['/v1/chat/completions'], 1)
    assert.equal(openai.calls['/v1/chat/completions'], 1)
    const viaAlias = await client.chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'a' }] })
    assert.equal(viaAlias.model, 'llama-3.1-8b')
    const direct = await client.chat.completions.create({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'a' }] }).withResponse()
    assert.equal(direct.response.headers.get('x-tollgate-cache'), 'HIT')
    assert.equal(local.calls['/v1/chat/completions'], 2)
  })

  it('an Azure-style upstream gets the model in its path and the api-version query', async () => {
    const response = await gw.post('/v1/chat/completions', { model: 'az-gpt4', messages: [{ role: 'user', content: 'azure' }] })
    assert.equal(response.status, 200)
    assert.equal(openai.last?.url, '/openai/deployments/az-gpt4/chat/completions?api-version=2024-10-21')
    assert.equal(openai.last?.headers['api-key'], 'az')
    assert.equal(openai.last?.headers.authorization, undefined)
  })

  it('lists the configured models and aliases with the upstreams’ own lists', async () => {
    const ids = (await gw.client().models.list()).data.map((m) => m.id)
    assert.ok(ids.includes('fast'))
  })

  it('/healthz answers, /readyz reports each store by check, never by URL', async () => {
    assert.deepEqual(await (await fetch(`${gw.url}/healthz`)).json(), { status: 'ok' })
    assert.deepEqual(await (await fetch(`${gw.url}/readyz`)).json(), { status: 'ready', checks: { store: 'ok', limitsStore: 'ok' }, warnings: [] })
  })

  it('allowlisted /v1 routes are proxied to the first upstream, uncached, bodies of any type as bytes', async () => {
    const response = await fetch(`${gw.url}/v1/models/extra`, { headers: { authorization: 'Bearer x' } })
    assert.equal(response.headers.get('x-tollgate-cache'), 'BYPASS')
    assert.equal(local.calls['/v1/models/extra'], 1)
    const form = new FormData()
    form.append('file', new Blob([Buffer.from([0, 1, 2, 255])]), 'audio.wav')
    form.append('model', 'whisper-1')
    const upload = await fetch(`${gw.url}/v1/audio/transcriptions`, { method: 'POST', body: form })
    assert.equal(upload.status, 200)
    assert.equal(local.calls['/v1/audio/transcriptions'], 1)
    assert.match(String(local.last?.headers['content-type']), /^multipart\/form-data; boundary=/)
  })
})
