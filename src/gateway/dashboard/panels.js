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
  // The gateway's own refusals, once per request: byStatus['429'] would add the upstream's 429s passed on.
  setText('throttled-total', integer(stats.limits.refused))
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

/** A store's status, and on Redis its memory; `whose` prefixes the names. */
function storeItems(whose, store) {
  const items = [healthItem(`${whose}store`, `${store.kind} · ${store.status}`, level(store.status, ['ok'], ['down']), [store.name, store.detail].filter(Boolean).join(' — '))]
  if (store.redis) {
    const { usedMemoryBytes, maxmemoryPolicy } = store.redis
    items.push(healthItem(`${whose}redis memory`, `${(usedMemoryBytes / 1048576).toFixed(1)} MiB · ${maxmemoryPolicy}`, maxmemoryPolicy === 'noeviction' ? 'ok' : 'warn'))
  }
  return items
}

export function drawHealth(stats) {
  const { cache, limits } = stats
  byId('health').replaceChildren(
    ...storeItems('', stats.store),
    healthItem('bus', cache.bus, level(cache.bus, ['healthy', 'none'], ['down'])),
    healthItem('circuit', cache.circuit, level(cache.circuit, ['closed', 'none'], ['open'])),
    healthItem('limits', limits.onFallback ? 'on fallback' : 'store', limits.onFallback ? 'warn' : 'ok', `${integer(limits.fallbackDecisions)} fallback decisions, ${integer(limits.fallbackSwitches)} switches`),
    ...(stats.limitsStore ? storeItems('limits ', stats.limitsStore) : []),
  )
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

/** A figure's cell names its column (data-label): on a phone the rows reflow without the header. */
function figure(title, text) {
  const element = cell('td', text)
  element.dataset.label = title
  return element
}

/** @param {HTMLTableElement} table */
function drawMoneyTable(table, lines) {
  const head = document.createElement('thead')
  head.append(row(COLUMNS.map(([title]) => cell('th', title))))
  const body = document.createElement('tbody')
  if (lines.length === 0) {
    const empty = cell('td', 'No calls yet')
    empty.colSpan = COLUMNS.length
    empty.className = 'muted'
    body.append(row([empty]))
  }
  for (const line of lines) body.append(row(COLUMNS.map(([title, value], i) => (i === 0 ? cell('td', value(line)) : figure(title, value(line))))))
  table.replaceChildren(head, body)
}

function row(cells) {
  const line = document.createElement('tr')
  line.append(...cells)
  return line
}

export function drawTables(stats) {
  drawMoneyTable(byId('top-tenants'), stats.money.topTenants)
  drawMoneyTable(byId('top-models'), stats.money.topModels)
}
