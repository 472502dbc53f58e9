// Makes docs/dashboard.png from a real run: a gateway (two tenants, an end-user limit) in front of the
// tests' fake upstream, a minute of mixed traffic from the openai SDK while the dashboard polls, then
// a screenshot of the page in headless Chromium. Run after `npm run build:test`:
//   node scripts/dashboard-screenshot.mjs [out.png] [seconds]
import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import OpenAI from 'openai'
import { createGateway, hashKey, parseConfig } from '../build/src/index.js'
import { launchChromium } from '../build/test/fixtures/browser.js'
import { startFakeUpstream } from '../build/test/fixtures/fake-upstream.js'

const out = resolve(process.argv[2] ?? 'docs/dashboard.png')
const seconds = Number(process.argv[3] ?? 60)
const ADMIN_TOKEN = 'screenshot-admin-token-0123'
const TENANTS = [
  { key: 'key-acme', tenant: 'acme-support', models: ['gpt-4o-mini', 'gpt-4o'], prompts: 80 },
  { key: 'key-bravo', tenant: 'bravo-search', models: ['gpt-4.1-mini'], prompts: 60 },
]

const upstream = await startFakeUpstream()
const gateway = createGateway(
  parseConfig({
    server: { port: 0 },
    upstreams: [{ name: 'fake', baseUrl: upstream.url, apiKey: 'upstream-secret' }],
    auth: 'keys',
    keys: TENANTS.map(({ key, tenant }) => ({ name: tenant, hash: hashKey(key), tenant })),
    admin: { token: ADMIN_TOKEN },
    limits: { user: { requests: { limit: 8, window: '10s' } } },
  }),
)
const url = await gateway.listen()
const browser = await launchChromium()
let running = true

/** One tenant's traffic: a small set of prompts asked again and again (hits after the first time), plus a greedy end user. */
async function traffic({ key, models, prompts }) {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0 })
  for (let i = 0; running; i++) {
    const model = models[i % models.length]
    const question = Math.floor(Math.random() * prompts)
    // The same question always gets the same answer: its size, and its upstream time (60 to 460 ms).
    const prompt = `question ${question} [big:${400 + question * 70}] [slow:${60 + ((question * 37) % 400)}]`
    const greedy = i % 3 === 0
    try {
      await client.chat.completions.create({ model, messages: [{ role: 'user', content: prompt }], ...(greedy ? { user: 'greedy' } : {}) })
    } catch (err) {
      if (!(err instanceof OpenAI.RateLimitError)) throw err
    }
    await new Promise((done) => setTimeout(done, 60 + Math.random() * 140))
  }
}

try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  await page.goto(`${url}/dashboard`)
  await page.fill('#token-input', ADMIN_TOKEN)
  await page.click('#token-form button[type=submit]')
  const load = Promise.all(TENANTS.map(traffic))
  await new Promise((done) => setTimeout(done, seconds * 1000))
  // Right after a poll, with the traffic still on: the last point is a full interval of it.
  const samples = await page.getAttribute('[data-chart="requests"]', 'data-samples')
  await page.waitForFunction((before) => globalThis.document.querySelector('[data-chart="requests"]').getAttribute('data-samples') !== before, samples, { timeout: 30_000 })
  mkdirSync(dirname(out), { recursive: true })
  await page.screenshot({ path: out, fullPage: true })
  running = false
  await load
  console.log(`wrote ${out}`)
} finally {
  await browser.close()
  await gateway.close()
  await upstream.close()
}
