import assert from 'node:assert/strict'
import { it } from 'node:test'
import { createCache, ManualClock } from '../../../src/index.js'
import { tollgateMiddleware } from '../../../src/integrations/ai-sdk/index.js'
import { forEachMajor, gate, modelPrompt, nextCoalesced, type Part, partStream, readAll, settled, stop, streamParts, TIMESTAMP, usage } from './kit.js'

/** A value without its undefined fields (a cache keeps what JSON keeps), Dates and all else as they are. */
function defined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(defined)
  if (value === null || typeof value !== 'object' || value instanceof Date) return value
  return Object.fromEntries(Object.entries(value).flatMap(([key, item]) => (item === undefined ? [] : [[key, defined(item)]])))
}

/** The parts without the middleware's own note of how the call was answered. */
const withoutNote = (parts: Part[]) =>
  parts.map((part) => {
    if (part.type !== 'finish') return defined(part)
    const { tollgate: _, ...metadata } = part.providerMetadata as Record<string, unknown>
    return defined({ ...part, providerMetadata: metadata })
  })

forEachMajor('streamText through the cache middleware', (kit) => {
  it('a repeated stream is replayed from the cache: the same text, the timestamp a Date again', async () => {
    const { streamText, wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const model = mockModel({ doStream: async () => ({ stream: partStream(streamParts(['Hel', 'lo', ' world'])) }) })
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache }) })
    const first = streamText({ model: wrapped, prompt: 'greet' })
    assert.equal(await first.text, 'Hello world')
    assert.equal((await first.providerMetadata)?.tollgate?.cache, 'miss')
    const second = streamText({ model: wrapped, prompt: 'greet' })
    assert.equal(await second.text, 'Hello world')
    assert.equal((await second.providerMetadata)?.tollgate?.cache, 'hit')
    assert.equal(model.doStreamCalls.length, 1)
    const { timestamp } = await second.response
    assert.ok(timestamp instanceof Date)
    assert.equal(timestamp.getTime(), TIMESTAMP.getTime())
    await cache.close()
  })

  it('the replayed parts are the parts the model sent, in order', async () => {
    const { wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const sent = [...streamParts(['a', 'b']).slice(0, -1), { type: 'raw', rawValue: { nested: [1, { deep: true }] } }, { type: 'finish', finishReason: stop, usage: usage(30, 20), providerMetadata: { mock: { id: 7 } } }]
    const model = mockModel({ doStream: async () => ({ stream: partStream(sent) }) })
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache }) })
    const live = await readAll((await wrapped.doStream({ prompt: modelPrompt('p'), includeRawChunks: true })).stream)
    const replayed = await readAll((await wrapped.doStream({ prompt: modelPrompt('p'), includeRawChunks: true })).stream)
    assert.equal(model.doStreamCalls.length, 1)
    assert.deepEqual(withoutNote(live), defined(sent))
    assert.deepEqual(withoutNote(replayed), defined(sent))
    assert.ok(replayed[1]?.timestamp instanceof Date)
    assert.deepEqual((replayed.at(-1)?.providerMetadata as Record<string, unknown>).tollgate, { cache: 'hit' })
    await cache.close()
  })

  it('a stream that fails, or reports an error, is not cached', async () => {
    const { streamText, wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const failures = [
      () => partStream(streamParts(['par']).slice(0, 4), new Error('connection reset')),
      () => partStream([...streamParts(['par']).slice(0, 4), { type: 'error', error: { message: 'overloaded' } }, { type: 'finish', finishReason: { unified: 'error', raw: 'error' }, usage: usage(30, 1) }]),
    ]
    for (const failure of failures) {
      const model = mockModel({ doStream: async () => ({ stream: failure() }) })
      const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache }) })
      for (let i = 0; i < 2; i++) {
        const result = streamText({ model: wrapped, prompt: 'p', onError: () => {} })
        // The AI SDK throws a failed stream's error and passes an error part on as a part.
        const types: string[] = []
        try {
          for await (const part of result.fullStream) types.push(part.type)
        } catch {
          types.push('error')
        }
        assert.ok(types.includes('error'), `the caller sees the failure (${types.join(', ')})`)
      }
      assert.equal(model.doStreamCalls.length, 2, 'the second call asked the model again')
    }
    await cache.close()
  })

  it('a reader that cancels leaves nothing half-finished in the cache', async () => {
    const { wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const model = mockModel({ doStream: async () => ({ stream: partStream(streamParts(['one', 'two', 'three'])) }) })
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache }) })
    const reader = (await wrapped.doStream({ prompt: modelPrompt('p') })).stream.getReader()
    await reader.read()
    await reader.cancel('no longer needed')
    const full = await readAll((await wrapped.doStream({ prompt: modelPrompt('p') })).stream)
    assert.equal(model.doStreamCalls.length, 2)
    assert.equal(full.filter((part) => part.type === 'text-delta').length, 3)
    await cache.close()
  })

  it('past its ttl but within grace, a stream is replayed stale while one refresh records the next', { timeout: 20_000 }, async () => {
    const { streamText, wrapLanguageModel, mockModel } = kit()
    const clock = new ManualClock()
    const cache = createCache({ clock })
    let version = 0
    const model = mockModel({ doStream: async () => ({ stream: partStream(streamParts([`v${++version}`])) }) })
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache, ttl: '1m', grace: '1h' }) })
    assert.equal(await streamText({ model: wrapped, prompt: 'p' }).text, 'v1')
    clock.advance(120_000)
    const refreshed = new Promise<void>((resolve) => cache.events.once('set', () => resolve()))
    const stale = streamText({ model: wrapped, prompt: 'p' })
    assert.equal(await stale.text, 'v1')
    assert.equal((await stale.providerMetadata)?.tollgate?.cache, 'stale')
    await refreshed
    const fresh = streamText({ model: wrapped, prompt: 'p' })
    assert.equal(await fresh.text, 'v2', 'the refresh, read by nobody, was recorded whole')
    assert.equal((await fresh.providerMetadata)?.tollgate?.cache, 'hit')
    assert.equal(model.doStreamCalls.length, 2)
    await cache.close()
  })

  it('identical streams in flight at once make one model call', { timeout: 20_000 }, async () => {
    const { streamText, wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const held = gate()
    const parts = streamParts(['sha', 'red'])
    const model = mockModel({
      doStream: async () => ({
        stream: new ReadableStream<Part>({
          async start(controller) {
            controller.enqueue(parts[0] as Part)
            await held.promise
            for (const part of parts.slice(1)) controller.enqueue(part)
            controller.close()
          },
        }),
      }),
    })
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache }) })
    const coalesced = nextCoalesced(cache)
    const first = streamText({ model: wrapped, prompt: 'p' })
    const second = streamText({ model: wrapped, prompt: 'p' })
    const texts = Promise.all([first.text, second.text])
    await coalesced
    held.open()
    assert.deepEqual(await texts, ['shared', 'shared'])
    assert.deepEqual([(await first.providerMetadata)?.tollgate?.cache, (await second.providerMetadata)?.tollgate?.cache].sort(), ['coalesced', 'miss'])
    assert.equal(model.doStreamCalls.length, 1)
    await cache.close()
  })

  it('a caller waiting for an identical stream leaves on its own abort; nobody waiting holds the stream up', { timeout: 20_000 }, async () => {
    const { wrapLanguageModel, mockModel } = kit()
    const cache = createCache()
    const model = mockModel({ doStream: async () => ({ stream: partStream(streamParts(['sha', 'red'])) }) })
    const wrapped = wrapLanguageModel({ model, middleware: tollgateMiddleware({ cache }) })
    // The first result's stream is not read yet: the answer everyone waits for is not finished.
    const first = await wrapped.doStream({ prompt: modelPrompt('p') })
    let coalesced = nextCoalesced(cache)
    const controller = new AbortController()
    const leaving = wrapped.doStream({ prompt: modelPrompt('p'), abortSignal: controller.signal })
    await coalesced
    coalesced = nextCoalesced(cache)
    const staying = wrapped.doStream({ prompt: modelPrompt('p') })
    await coalesced
    coalesced = nextCoalesced(cache)
    const unread = wrapped.doStream({ prompt: modelPrompt('p') })
    await coalesced
    const reason = new Error('caller 2 gave up')
    controller.abort(reason)
    await assert.rejects(settled(leaving, 'the caller that aborted'), (err) => err === reason)
    const gone = AbortSignal.abort(new Error('gone before it asked'))
    await assert.rejects(settled(wrapped.doStream({ prompt: modelPrompt('p'), abortSignal: gone }), 'the caller aborted already'), (err) => err === gone.reason)
    const live = await readAll(first.stream)
    assert.deepEqual((live.at(-1)?.providerMetadata as Record<string, unknown>).tollgate, { cache: 'miss' })
    const waited = await readAll((await staying).stream)
    assert.deepEqual(
      waited.filter((part) => part.type === 'text-delta').map((part) => part.delta),
      ['sha', 'red'],
    )
    assert.deepEqual((waited.at(-1)?.providerMetadata as Record<string, unknown>).tollgate, { cache: 'coalesced' })
    await unread
    // The waiter that never reads its replay held nothing up: the answer was recorded whole.
    const replayed = await readAll((await wrapped.doStream({ prompt: modelPrompt('p') })).stream)
    assert.deepEqual((replayed.at(-1)?.providerMetadata as Record<string, unknown>).tollgate, { cache: 'hit' })
    assert.equal(model.doStreamCalls.length, 1)
    await cache.close()
  })
})
