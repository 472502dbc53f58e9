// The parts of the page drawn from the latest answer alone: headline, health strip, top tables.
// Every string from the API goes in as text (textContent), never as markup.
import { duration, integer, percent, usd } from './format.js'

/** @param {string} id */
const byId = (id) => document.getElementById(id)

function setText(id, text) {
  byId(id).textContent = text
}

export function drawHeadline(stats) {
  const saved = byId('saved-usd')
  saved.textContent = usd(stats.money.savedUsd)
  saved.dataset.usd = String(stats.money.savedUsd)
  setText('spent-usd', usd(stats.money.spentUsd))
  setText('hit-ratio', percent(stats.cache.hitRatio))
  setText('calls-avoided', integer(stats.upstream.callsAvoided))
  setText('requests-total', integer(stats.requests.total))
  setText('throttled-total', integer(stats.requests.byStatus['429'] ?? 0))
  setText('about', `v${stats.version} · up ${duration(stats.uptimeSeconds)}`)
}

/** `ok`, `warn` or `bad`: the colour of a health item. */
function level(value, good, bad) {
  if (good.includes(value)) return 'ok'
  return bad.includes(value) ? 'bad' : 'warn'
}

function healthItem(name, value, state, title) {
  const item = document.createElement('li')
  item.className = `health-item ${state}`
  item.dataset.health = name
  const label = document.createElement('span')
  label.className = 'label'
  label.textContent = name
  const text = document.createElement('span')
  text.className = 'value'
  text.textContent = value
  item.append(label, text)
  if (title) item.title = title
  return item
}

export function drawHealth(stats) {
  const { store, cache, limits } = stats
  const storeDetail = [store.name, store.detail].filter(Boolean).join(' — ')
  const items = [
    healthItem('store', `${store.kind} · ${store.status}`, level(store.status, ['ok'], ['down']), storeDetail),
    healthItem('bus', cache.bus, level(cache.bus, ['healthy', 'none'], ['down'])),
    healthItem('circuit', cache.circuit, level(cache.circuit, ['closed', 'none'], ['open'])),
    healthItem('limits', limits.onFallback ? 'on fallback' : 'store', limits.onFallback ? 'warn' : 'ok', `${integer(limits.fallbackDecisions)} fallback decisions, ${integer(limits.fallbackSwitches)} switches`),
  ]
  if (store.redis) {
    const { usedMemoryBytes, maxmemoryPolicy } = store.redis
    items.push(healthItem('redis memory', `${(usedMemoryBytes / 1048576).toFixed(1)} MiB · ${maxmemoryPolicy}`, maxmemoryPolicy === 'noeviction' ? 'ok' : 'warn'))
  }
  byId('health').replaceChildren(...items)
}

const COLUMNS = [
  ['Name', (line) => line.name],
  ['Spent', (line) => usd(line.spentUsd)],
  ['Saved', (line) => usd(line.savedUsd)],
  ['Upstream calls', (line) => integer(line.upstreamCalls)],
  ['Cache hits', (line) => integer(line.cacheHits)],
]

function cell(tag, text) {
  const element = document.createElement(tag)
  element.textContent = text
  return element
}

/** @param {HTMLTableElement} table */
function drawMoneyTable(table, lines) {
  const head = document.createElement('thead')
  head.append(row('th', COLUMNS.map(([title]) => title)))
  const body = document.createElement('tbody')
  if (lines.length === 0) {
    const empty = cell('td', 'No calls yet')
    empty.colSpan = COLUMNS.length
    empty.className = 'muted'
    const line = document.createElement('tr')
    line.append(empty)
    body.append(line)
  }
  for (const line of lines) body.append(row('td', COLUMNS.map(([, value]) => value(line))))
  table.replaceChildren(head, body)
}

function row(tag, texts) {
  const line = document.createElement('tr')
  line.append(...texts.map((text) => cell(tag, text)))
  return line
}

export function drawTables(stats) {
  drawMoneyTable(byId('top-tenants'), stats.money.topTenants)
  drawMoneyTable(byId('top-models'), stats.money.topModels)
}
