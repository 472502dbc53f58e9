import assert from 'node:assert/strict'
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))
const OFFLINE = new URL('../harness/offline.js', import.meta.url).href

/** Nothing the demo could use to reach a real provider, a Redis or a config file. */
function offlineEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'REDIS_URL', 'TOLLGATE_STORE_URL', 'TOLLGATE_CONFIG', 'TOLLGATE_ADMIN_TOKEN', 'HTTP_PROXY', 'HTTPS_PROXY']) delete env[name]
  return { ...env, ...extra }
}

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function cli(args: string[], cwd: string, env = offlineEnv()): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', OFFLINE, CLI, ...args], { cwd, env, timeout: 120_000 }, (error, stdout, stderr) => resolve({ code: error ? ((error.code as number | undefined) ?? null) : 0, stdout, stderr }))
  })
}

/** The figure printed after a label of the demo's table (`  upstream calls made   77 ...`). */
function figure(table: string, label: string): number {
  const match = new RegExp(`^  ${label.replace(/[()]/g, '\\$&')} +\\$?([\\d.]+)`, 'm').exec(table)
  assert.ok(match, `the table has a "${label}" line:\n${table}`)
  return Number(match[1])
}

/** Checks one printed demo table against itself and the fake upstream's own count; returns upstream calls made. */
function checkTable(stdout: string): number {
  const requests = figure(stdout, 'requests')
  const refused = figure(stdout, 'refused (429)')
  const made = figure(stdout, 'upstream calls made')
  const avoided = figure(stdout, 'upstream calls avoided')
  const counted = Number(/the fake upstream counted (\d+)/.exec(stdout)?.[1])
  assert.ok(requests > 100, 'the built-in workload ran')
  assert.equal(made, counted, "upstream calls made are the fake upstream's own count")
  assert.equal(avoided, requests - made - refused, 'every answered request not sent upstream was avoided')
  assert.ok(avoided > 0 && refused > 0, 'the cache and the per-user limit both had work')
  assert.ok(figure(stdout, 'USD saved') > 0, 'savings are printed')
  assert.ok(figure(stdout, 'USD spent') > 0)
  assert.doesNotMatch(stdout, /^ {2}failed/m, 'no request failed')
  const byRule = [...stdout.slice(stdout.indexOf('429s by rule')).matchAll(/^ {2}([\w-]+) +(\d+)/gm)].reduce((sum, match) => sum + Number(match[2]), 0)
  assert.equal(byRule, refused, '429s by rule add up to the refused requests')
  for (const q of ['p50', 'p95', 'p99']) assert.match(stdout, new RegExp(`^ {2}${q} +\\d+\\.\\d{3} +\\d+\\.\\d{3}$`, 'm'), `${q} with and without the cache`)
  assert.match(stdout, /pricing: gpt-4\.1 \$2\.00 in \/ \$8\.00 out/, 'the pricing used is said')
  return made
}

describe('tollgate demo', { timeout: 180_000 }, () => {
  let dir: string
  let running: ChildProcess
  let runningOut = ''
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-demo-'))
    // The one that stays up runs beside the --exit one: both wait on their fake upstream, not the CPU.
    running = spawn(process.execPath, ['--import', OFFLINE, CLI, 'demo', '--port', '0'], { cwd: dir, env: offlineEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    running.stdout?.setEncoding('utf8').on('data', (text: string) => (runningOut += text))
    running.stderr?.setEncoding('utf8').on('data', (text: string) => (runningOut += text))
  })
  after(() => {
    if (running.exitCode === null && running.signalCode === null) running.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })

  it('the offline guard blocks a connection off loopback (so the checks below can fail)', async () => {
    const { stderr } = await new Promise<Run>((resolve) => {
      execFile(process.execPath, ['--import', OFFLINE, '-e', "fetch('http://192.0.2.1/').catch(() => {})"], (error, stdout, stderr) => resolve({ code: error ? 1 : 0, stdout, stderr }))
    })
    assert.match(stderr, /offline: blocked a connection to 192\.0\.2\.1/)
  })

  it('--exit runs offline, prints the table, and its savings match the fake upstream\'s call count', async () => {
    const { code, stdout, stderr } = await cli(['demo', '--exit', '--port', '0'], dir)
    assert.equal(code, 0, stderr)
    assert.doesNotMatch(stderr, /offline: blocked/, 'no connection left the machine')
    assert.ok(!(stdout + stderr).includes('\u001b['), 'no bar animation (no terminal escapes) when stdout is not a terminal')
    assert.match(stdout, /through tollgate +done in [\d.]+ s/)
    checkTable(stdout)
    assert.match(stdout, /Stopped the gateway and the fake upstream \(--exit\)/)
    assert.doesNotMatch(stdout, /Dashboard:/, 'no URL of a dashboard that is gone')
  })

  it('without --exit it keeps the gateway and dashboard up, tollgate stats reads it, and SIGTERM stops it cleanly', async () => {
    const exited = once(running, 'exit')
    while (!/admin token: (\S+)\)/.test(runningOut)) {
      assert.equal(running.exitCode, null, `the demo exited early:\n${runningOut}`)
      await Promise.race([once(running.stdout!, 'data'), exited])
    }
    const made = checkTable(runningOut)
    const url = /Dashboard: (http:\/\/127\.0\.0\.1:\d+)\/dashboard/.exec(runningOut)?.[1] as string
    const token = /admin token: (\S+)\)/.exec(runningOut)?.[1] as string
    assert.equal((await fetch(`${url}/healthz`)).status, 200, 'the gateway is still up')
    const stats = await cli(['stats', '--url', url, '--json'], dir, offlineEnv({ TOLLGATE_ADMIN_TOKEN: token }))
    assert.equal(stats.code, 0, stats.stderr)
    assert.equal((JSON.parse(stats.stdout) as { upstream: { calls: number } }).upstream.calls, made, 'the stats say what the table said')
    running.kill('SIGTERM')
    assert.deepEqual(await exited, [0, null])
    assert.match(runningOut, /SIGTERM: stopping the gateway and the fake upstream/)
    assert.doesNotMatch(runningOut, /offline: blocked/)
    await assert.rejects(fetch(`${url}/healthz`), 'the gateway is closed')
  })

  it('a --port in use fails naming it; --help', async () => {
    const busy: Server = createServer()
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
    const { port } = busy.address() as AddressInfo
    try {
      const { code, stderr } = await cli(['demo', '--exit', '--port', String(port)], dir)
      assert.equal(code, 1)
      assert.match(stderr, new RegExp(`port ${port} is in use`))
    } finally {
      busy.close()
    }
    const bad = await cli(['demo', '--port', 'eighty'], dir)
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--port/)
    const help = await cli(['demo', '--help'], dir)
    assert.equal(help.code, 0)
    assert.match(help.stdout, /^Usage: tollgate demo/)
  })
})
