import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import OpenAI from 'openai'
import { hashKey } from '../../src/index.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { CliGateway } from '../harness/cli-gateway.js'
import { RedisCluster } from '../harness/redis-cluster.js'
import { RedisServer } from '../harness/redis-server.js'

const INSTANCES = 3
const CLIENTS = 64
const LIMIT = 100
const REQUESTS = 300
const KEY = 'sk-team-key'

const BACKENDS: Array<{ name: string; start: () => Promise<{ url: string; stop: () => Promise<void> }> }> = [
  { name: 'redis standalone', start: () => RedisServer.start() },
  { name: 'redis cluster (3 masters)', start: () => RedisCluster.start() },
]

/**
 * Several `tollgate start` processes behind a round-robin balancer, one shared Redis: a key's limit
 * holds for the sum of them, exactly, with the headers a client needs to back off.
 */
for (const backend of BACKENDS) {
  describe(`${INSTANCES} gateway instances on one ${backend.name}: one key's limit holds exactly`, () => {
    let server: { url: string; stop: () => Promise<void> }
    let upstream: FakeUpstream
    let gateways: CliGateway[] = []
    before(async () => {
      ;[server, upstream] = await Promise.all([backend.start(), startFakeUpstream()])
      const config = {
        store: { url: server.url },
        upstreams: [{ name: 'fake', baseUrl: upstream.url, apiKey: 'upstream-secret' }],
        keys: [{ name: 'team', tenant: 'acme', hash: hashKey(KEY) }],
        limits: { instances: INSTANCES, requests: { limit: LIMIT, window: '1h' } },
      }
      gateways = await Promise.all(Array.from({ length: INSTANCES }, () => CliGateway.start(config)))
    })
    after(async () => {
      await Promise.all(gateways.map((gateway) => gateway.stop()))
      await Promise.all([server?.stop(), upstream?.close()])
    })

    it(`${CLIENTS} clients, ${REQUESTS} requests round-robin: exactly ${LIMIT} answered, the rest 429 with Retry-After and RateLimit headers`, async () => {
      const clients = gateways.map((gateway) => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEY, maxRetries: 0 }))
      let next = 0
      const outcomes = { ok: 0, limited: 0, other: [] as string[] }
      const limitedHeaders: Headers[] = []
      const client = async () => {
        for (let n = next++; n < REQUESTS; n = next++) {
          try {
            // Distinct prompts: every request is a miss, so each costs an upstream call.
            await clients[n % INSTANCES]!.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `question ${n}` }] })
            outcomes.ok++
          } catch (err) {
            if (err instanceof OpenAI.RateLimitError) {
              outcomes.limited++
              limitedHeaders.push(err.headers)
            } else outcomes.other.push(String(err))
          }
        }
      }
      await Promise.all(Array.from({ length: CLIENTS }, client))
      assert.deepEqual(outcomes, { ok: LIMIT, limited: REQUESTS - LIMIT, other: [] })
      assert.equal(Object.values(upstream.calls).reduce((a, b) => a + b, 0), LIMIT, 'only the admitted requests reached the upstream')
      for (const headers of limitedHeaders) {
        assert.ok(Number(headers.get('retry-after')) >= 1, 'Retry-After in whole seconds')
        assert.equal(headers.get('x-ratelimit-limit-requests'), String(LIMIT))
        assert.equal(headers.get('x-ratelimit-remaining-requests'), '0')
        assert.match(headers.get('ratelimit') ?? '', /r=0/)
        assert.match(headers.get('ratelimit-policy') ?? '', new RegExp(`q=${LIMIT}`))
      }
    })
  })
}
