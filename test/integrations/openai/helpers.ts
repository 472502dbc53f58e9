import OpenAI from 'openai'
import { type Cache, createCache } from '../../../src/index.js'
import { type TollgateOpenAIOptions, withTollgate } from '../../../src/integrations/openai/index.js'
import type { FakeUpstream } from '../../fixtures/fake-upstream.js'

/** A real OpenAI client pointed at the fake upstream, wrapped; retries off unless asked for. */
export function wrappedClient(upstream: FakeUpstream, options: Partial<TollgateOpenAIOptions> = {}, client: ConstructorParameters<typeof OpenAI>[0] = {}): { client: OpenAI; cache: Cache } {
  const cache = options.cache ?? createCache({ namespace: 'sdk' })
  const plain = new OpenAI({ apiKey: 'sk-test', baseURL: upstream.url, maxRetries: 0, ...client })
  return { client: withTollgate(plain, { cache, ...options }), cache }
}

export const ask = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content }], ...extra })

export const askStream = (content: string) => ({ ...ask(content), stream: true as const })
