import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import OpenAI from 'openai'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../fixtures/browser.js'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { type RunningGateway, startGateway, TWO_TENANTS } from './helpers.js'

const ADMIN_TOKEN = 'dashboard-test-admin-token'
/** Generous: the page polls every 3 s, and a loaded 2-core machine can be slow to draw. */
const WAIT = { timeout: 30_000 }
const RESULTS = fileURLToPath(new URL('../../../test-results/', import.meta.url))

/**
 * The little of the DOM the callbacks run in the page use: the project compiles without the DOM
 * library (it would type Node's timers as the browser's), so each callback casts `globalThis` to this.
 */
interface PageElement {
  textContent: string | null
  clientWidth: number
  getAttribute(name: string): string | null
  querySelector(selector: string): PageElement | null
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>
  getBoundingClientRect(): { left: number; top: number; width: number }
}
interface PageCanvas extends PageElement {
  width: number
  height: number
  getContext(kind: '2d'): { getImageData(x: number, y: number, width: number, height: number): { data: Uint8ClampedArray } }
}
interface PageWindow {
  document: PageElement & { documentElement: { scrollWidth: number }; addEventListener(type: string, listener: (event: { violatedDirective: string; blockedURI: string }) => void): void }
  sessionStorage: { length: number }
  innerWidth: number
  getComputedStyle(element: PageElement): { borderTopColor: string }
  reportViolation(text: string): void
}

const chat = (content: string, extra: object = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content }], ...extra })

/**
 * One round of traffic: for each of two tenants a miss then two hits, an end user over their limit
 * (2 an hour: 429s from the first round on), and a 429 of the upstream's, passed on: the gateway did
 * not throttle that one. Counts what the page should then show.
 */
async function workload(gw: RunningGateway, round: number): Promise<{ requests: number; hits: number; throttled: number }> {
  let requests = 0
  let hits = 0
  let throttled = 0
  const passedOn = await gw.post('/v1/chat/completions', chat(`[fail:429] round ${round}`), { authorization: 'Bearer key-b1' })
  requests++
  assert.equal(passedOn.status, 429, "the upstream's 429 is passed on")
  await passedOn.body?.cancel()
  for (const key of ['key-a1', 'key-b1']) {
    const client = gw.client(key)
    for (let i = 0; i < 3; i++) {
      const { response } = await client.chat.completions.create(chat(`what does ${key} save in round ${round}?`)).withResponse()
      requests++
      if (response.headers.get('x-tollgate-cache') === 'HIT') hits++
    }
  }
  const greedy = gw.client('key-a1')
  for (let i = 0; i < 4; i++) {
    try {
      requests++
      await greedy.chat.completions.create(chat('greedy', { user: 'greedy' }))
    } catch (err) {
      if (!(err instanceof OpenAI.RateLimitError)) throw err
      throttled++
    }
  }
  return { requests, hits, throttled }
}

/** Resolves once the page shows `total` requests: the poll after a round has drawn all of it. */
function shownRequests(page: Page, total: number): Promise<unknown> {
  return page.waitForFunction((total) => (globalThis as unknown as PageWindow).document.querySelector('#requests-total')?.textContent === String(total), total, WAIT)
}

/** How many pixels of a chart's canvas have the colour of the legend marker of `series`. */
function seriesPixels(page: Page, chart: string, series: string): Promise<number> {
  return page.evaluate(
    ([chart, series]) => {
      const { document, getComputedStyle } = globalThis as unknown as PageWindow
      const card = document.querySelector(`[data-chart="${chart}"]`)
      const row = [...(card?.querySelectorAll('.u-series') ?? [])].find((each) => each.querySelector('.u-label')?.textContent === series)
      const marker = row?.querySelector('.u-marker')
      const canvas = card?.querySelector('canvas') as PageCanvas | null | undefined
      if (!marker || !canvas) return -1
      const [r, g, b] = (getComputedStyle(marker).borderTopColor.match(/\d+/g) ?? []).map(Number) as [number, number, number]
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height)
      let count = 0
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3]! > 200 && Math.abs(data[i]! - r) + Math.abs(data[i + 1]! - g) + Math.abs(data[i + 2]! - b) < 40) count++
      }
      return count
    },
    [chart, series] as const,
  )
}

describe('dashboard in a real browser', () => {
  let upstream: FakeUpstream
  let gw: RunningGateway
  let browser: Browser
  let page: Page
  const violations: string[] = []
  const pageErrors: string[] = []

  before(async () => {
    mkdirSync(RESULTS, { recursive: true })
    upstream = await startFakeUpstream()
    gw = await startGateway(upstream.url, {
      auth: 'keys',
      keys: TWO_TENANTS,
      admin: { token: ADMIN_TOKEN },
      limits: { user: { requests: { limit: 2, window: '1h' } } },
    })
    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    // An init script runs outside the page's CSP: it sees every violation the page would cause.
    await page.exposeFunction('reportViolation', (directive: string) => violations.push(directive))
    await page.addInitScript(() => {
      const page = globalThis as unknown as PageWindow
      page.document.addEventListener('securitypolicyviolation', (event) => page.reportViolation(`${event.violatedDirective} ${event.blockedURI}`))
    })
    page.on('pageerror', (error) => pageErrors.push(error.message))
  })

  after(async () => {
    try {
      await browser?.close()
    } finally {
      await gw?.close()
      await upstream?.close()
    }
  })

  it('asks for the token, and says so when a wrong one is refused', async () => {
    await page.goto(`${gw.url}/dashboard`)
    await page.locator('#token-form').waitFor({ state: 'visible', ...WAIT })
    await page.fill('#token-input', 'a-wrong-token-of-some-length')
    await page.click('#token-form button[type=submit]')
    await page.waitForFunction(() => /refused \(401\)/.test((globalThis as unknown as PageWindow).document.querySelector('#token-error')?.textContent ?? ''), undefined, WAIT)
    assert.equal(await page.isVisible('#token-form'), true)
    assert.equal(await page.isHidden('#board'), true)
    assert.equal(await page.evaluate(() => (globalThis as unknown as PageWindow).sessionStorage.length), 0, 'a refused token is not kept')
  })

  it('draws every chart with non-zero data once a workload has run', async () => {
    await page.fill('#token-input', ADMIN_TOKEN)
    await page.click('#token-form button[type=submit]')
    // The first sample is the baseline the rates are measured from.
    await page.waitForFunction(() => Number((globalThis as unknown as PageWindow).document.querySelector('[data-chart="requests"]')?.getAttribute('data-samples')) >= 1, undefined, WAIT)
    assert.equal(await page.evaluate(() => (globalThis as unknown as PageWindow).sessionStorage.length), 1)

    // Two rounds, a poll between them: each rate is then a line of two points at least, not a dot.
    const first = await workload(gw, 1)
    assert.ok(first.hits >= 4, `cache hits in the first round: ${first.hits}`)
    assert.equal(first.throttled, 2)
    await shownRequests(page, first.requests)
    const second = await workload(gw, 2)
    assert.equal(second.throttled, 4)
    await shownRequests(page, first.requests + second.requests)

    await page.waitForFunction(
      () => {
        const { document } = globalThis as unknown as PageWindow
        const nonzero = (chart: string) => (document.querySelector(`[data-chart="${chart}"]`)?.getAttribute('data-nonzero') ?? '').split(',').filter(Boolean)
        return (
          Number(document.querySelector('#saved-usd')?.getAttribute('data-usd')) > 0 &&
          nonzero('requests').includes('HIT') &&
          nonzero('requests').includes('MISS') &&
          nonzero('hit-ratio').length > 0 &&
          nonzero('money').includes('saved') &&
          nonzero('blocked').length > 0 &&
          nonzero('latency').includes('p50') &&
          nonzero('overhead').includes('p50') &&
          document.querySelectorAll('#top-tenants tbody tr').length === 2
        )
      },
      undefined,
      WAIT,
    )
    // Before the assertions on what is drawn: a failure leaves the picture to look at.
    await page.screenshot({ path: `${RESULTS}dashboard.png`, fullPage: true })
    assert.match(await page.textContent('#saved-usd') ?? '', /^\$\d/)
    assert.equal(await page.textContent('#throttled-total'), String(first.throttled + second.throttled))
    const tenants = await page.$$eval('#top-tenants tbody td:first-child', (cells) => cells.map((cell) => cell.textContent).sort())
    assert.deepEqual(tenants, ['acme', 'bravo'])
    assert.match(await page.textContent('[data-health="store"]') ?? '', /memory/)
    assert.match(await page.textContent('[data-health="limits store"]') ?? '', /memory · ok/, "the limits' own store")
    for (const [chart, series] of [['requests', 'HIT'], ['requests', 'MISS'], ['money', 'saved'], ['latency', 'p50']] as const) {
      assert.ok((await seriesPixels(page, chart, series)) > 20, `${chart}: the ${series} line is drawn`)
    }
    assert.deepEqual(violations, [], 'the page runs under its own CSP')
    assert.deepEqual(pageErrors, [])
  })

  it('stacks everything in one column on a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    // uPlot follows its container through a ResizeObserver: wait until every canvas fits its card.
    await page.waitForFunction(
      () => {
        const { document, innerWidth } = globalThis as unknown as PageWindow
        const cards = [...document.querySelectorAll('[data-chart]')]
        const fits = cards.every((card) => (card.querySelector('canvas')?.getBoundingClientRect().width ?? Infinity) <= card.clientWidth)
        return fits && document.documentElement.scrollWidth <= innerWidth
      },
      undefined,
      WAIT,
    )
    const boxes = await page.$$eval('[data-chart], .tables > .card', (cards) => cards.map((card) => card.getBoundingClientRect()).map(({ left, top, width }) => ({ left, top, width })))
    assert.equal(new Set(boxes.map((box) => Math.round(box.left))).size, 1, 'one column')
    for (let i = 1; i < boxes.length; i++) assert.ok(boxes[i]!.top > boxes[i - 1]!.top, 'one card under the other')
    for (const box of boxes) assert.ok(box.width > 390 * 0.85, `a card spans the screen (${box.width}px)`)
    // The money tables reflow: every figure of every line is inside its card, nothing to scroll to.
    const tables = await page.$$eval('.money-table', (tables) =>
      tables.map((table) => {
        const card = table.closest('.card')!
        const right = card.getBoundingClientRect().right
        const cells = [...table.querySelectorAll('tbody td')]
        return { id: table.id, scrolls: card.scrollWidth > card.clientWidth, cells: cells.length, outside: cells.filter((cell) => cell.getBoundingClientRect().right > right).map((cell) => cell.textContent) }
      }),
    )
    assert.equal(tables.length, 2)
    for (const table of tables) {
      assert.ok(table.cells >= 5, `${table.id} has lines`)
      assert.deepEqual(table.outside, [], `${table.id}: no cell cut off at the right`)
      assert.equal(table.scrolls, false, `${table.id} fits its card`)
    }
    assert.match(await page.textContent('#top-models tbody td[data-label="Cache hits"]') ?? '', /\d/, 'each figure is labelled')
    await page.screenshot({ path: `${RESULTS}dashboard-phone.png`, fullPage: true })
  })

  it('forgets the token on request', async () => {
    await page.click('#forget')
    await page.locator('#token-form').waitFor({ state: 'visible', ...WAIT })
    assert.equal(await page.evaluate(() => (globalThis as unknown as PageWindow).sessionStorage.length), 0)
    assert.equal(await page.isHidden('#board'), true)
  })
})
