// The page's loop: with a token, poll /admin/stats every few seconds and redraw; a refused token
// goes back to the prompt. Polls are chained (never overlapping), so a slow gateway is not piled on.
import { Charts } from './charts.js'
import { drawHeadline, drawHealth, drawTables } from './panels.js'
import { Samples } from './samples.js'
import { askForToken, forgetToken, storedToken } from './token.js'

const POLL_MS = 3_000
const TIMEOUT_MS = 10_000
/** What a header can carry: anything else would make fetch throw, and could never be the token. */
const HEADER_SAFE = /^[\x21-\x7e]+$/

const board = document.getElementById('board')
const status = document.getElementById('status')
const forgetButton = document.getElementById('forget')
const samples = new Samples()
const charts = new Charts(board)
const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
let timer
/** Bumped on every start and stop: the answer to a poll of a forgotten token is dropped. */
let generation = 0

function setStatus(text, state) {
  status.textContent = text
  status.dataset.state = state
}

/** The message of an OpenAI-shaped error body, if the answer is one. */
async function errorMessage(response) {
  try {
    const body = await response.json()
    return typeof body?.error?.message === 'string' ? body.error.message : ''
  } catch {
    return ''
  }
}

async function fetchStats(token) {
  if (!HEADER_SAFE.test(token)) return { kind: 'refused' }
  try {
    const response = await fetch('admin/stats', {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      cache: 'no-store',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    })
    if (response.status === 401 || response.status === 403) return { kind: 'refused' }
    if (response.status === 404) return { kind: 'off', reason: await errorMessage(response) }
    if (!response.ok) return { kind: 'failed', reason: `answered HTTP ${response.status}` }
    return { kind: 'stats', stats: await response.json() }
  } catch (err) {
    return { kind: 'failed', reason: err instanceof DOMException && err.name === 'TimeoutError' ? 'did not answer in time' : 'is unreachable' }
  }
}

function draw(stats) {
  board.hidden = false
  samples.add(stats)
  drawHeadline(stats)
  drawHealth(stats)
  drawTables(stats)
  charts.draw(samples.derive())
  setStatus(`Updated ${clock.format(new Date())}`, 'ok')
}

function stop() {
  clearTimeout(timer)
  generation++
  samples.clear()
  charts.clear()
  board.hidden = true
  forgetButton.hidden = true
}

function signIn(message) {
  stop()
  setStatus('Waiting for the admin token', 'idle')
  askForToken(message, start)
}

function start(token) {
  const mine = ++generation
  forgetButton.hidden = false
  setStatus('Connecting…', 'idle')
  const poll = async () => {
    const outcome = await fetchStats(token)
    if (mine !== generation) return
    if (outcome.kind === 'refused') {
      forgetToken()
      return signIn('The admin token was refused (401). Enter it again.')
    }
    if (outcome.kind === 'off') {
      forgetToken()
      return signIn(`No stats on this gateway (404)${outcome.reason ? `: ${outcome.reason}` : '.'}`)
    }
    if (outcome.kind === 'failed') setStatus(`The gateway ${outcome.reason}; retrying every ${POLL_MS / 1000} s`, 'error')
    else {
      try {
        draw(outcome.stats)
      } catch (err) {
        // An answer of another shape (a gateway of another version) must not end the polling.
        setStatus(`The stats could not be drawn (${err instanceof Error ? err.message : String(err)}); retrying`, 'error')
      }
    }
    timer = setTimeout(poll, POLL_MS)
  }
  void poll()
}

forgetButton.addEventListener('click', () => {
  forgetToken()
  signIn('')
})

const token = storedToken()
if (token) start(token)
else signIn('')
