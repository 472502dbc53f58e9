import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { type AddressInfo, createServer } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type FakeUpstream, startFakeUpstream } from '../fixtures/fake-upstream.js'
import { CliGateway } from '../harness/cli-gateway.js'

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))
const TOKEN = 'admin-token-for-the-cli-tests-0123456789'

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the CLI with `token` in TOLLGATE_ADMIN_TOKEN (null: unset). */
function cli(args: string[], token: string | null = TOKEN): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.TOLLGATE_ADMIN_TOKEN
  if (token !== null) env.TOLLGATE_ADMIN_TOKEN = token
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env, timeout: 30_000 }, (error, stdout, stderr) => resolve({ code: error ? ((error.code as number | undefined) ?? null) : 0, stdout, stderr }))
  })
}

/** A loopback port nothing listens on (one that was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('tollgate stats and tollgate invalidate', { timeout: 120_000 }, () => {
  let upstream: FakeUpstream
  let gateway: CliGateway
  let closed: CliGateway
  before(async () => {
    upstream = await startFakeUpstream()
    gateway = await CliGateway.start({ upstreams: [{ name: 'main', baseUrl: upstream.url }], admin: { token: TOKEN } })
    closed = await CliGateway.start({ upstreams: [{ name: 'main', baseUrl: upstream.url }] })
  })
  after(async () => {
    await gateway.stop()
    await closed.stop()
    await upstream.close()
  })

  const ask = (content: string, headers: Record<string, string> = {}) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }),
    }).then(async (response) => ({ cache: response.headers.get('x-tollgate-cache'), key: response.headers.get('x-tollgate-cache-key'), body: await response.text() }))

  it('stats prints the tables and --json the answer as it came', async () => {
    await ask('stats one')
    assert.equal((await ask('stats one')).cache, 'HIT')
    const table = await cli(['stats', '--url', gateway.url])
    assert.equal(table.code, 0, table.stderr)
    assert.match(table.stdout, /^tollgate \S+ at http:\/\/127\.0\.0\.1:\d+, up /)
    assert.match(table.stdout, /^ {2}upstream calls made +1\b/m)
    assert.match(table.stdout, /^ {2}upstream calls avoided +1\b/m)
    assert.match(table.stdout, /^ {2}hit ratio +50\.0 %/m)
    assert.match(table.stdout, /^ {2}latency, last 60 s \(s\) +p50 +p95 +p99$/m)
    assert.match(table.stdout, /^ {2}limits store +ok +memory /m, "the embedded default's limits have their own store")
    // The OpenAI base URL clients are given (the root plus /v1) names the gateway too.
    const json = await cli(['stats', '--url', `${gateway.url}/v1/`, '--json'])
    assert.equal(json.code, 0, json.stderr)
    const stats = JSON.parse(json.stdout) as { upstream: { calls: number }; requests: { byCache: { HIT: number } } }
    assert.equal(stats.upstream.calls, 1)
    assert.equal(stats.requests.byCache.HIT, 1)
  })

  it('a wrong or missing token, a token as an argument, no admin API, no gateway: one clear line and a non-zero exit', async () => {
    const nobody = `http://127.0.0.1:${await closedPort()}`
    const cases: Array<[string[], string | null, number, RegExp]> = [
      [['stats', '--url', gateway.url], 'not-the-admin-token-at-all', 1, /refused the admin token \(invalid_admin_token\): TOLLGATE_ADMIN_TOKEN/],
      [['stats', '--url', gateway.url], null, 1, /set TOLLGATE_ADMIN_TOKEN/],
      [['invalidate', '--tag', 'x', '--url', gateway.url], 'not-the-admin-token-at-all', 1, /refused the admin token/],
      [['stats', '--url', gateway.url, '--token', TOKEN], TOKEN, 2, /read from TOLLGATE_ADMIN_TOKEN, never from an argument/],
      [['stats', '--url', closed.url], TOKEN, 1, /admin API is off .*admin\.token/],
      [['stats', '--url', nobody], TOKEN, 1, /cannot reach the gateway at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); is it running/],
      [['stats', '--url', 'ftp://x'], TOKEN, 2, /--url: expected an http\(s\) URL/],
    ]
    for (const [args, token, code, message] of cases) {
      const run = await cli(args, token)
      assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`)
      assert.match(run.stderr, message, args.join(' '))
      assert.equal(run.stderr.trim().split('\n').length, 1, `one line, no stack: ${run.stderr}`)
      assert.equal(run.stdout, '', args.join(' '))
    }
  })

  it('invalidate --tag, --key and --namespace drop what they name, on the running gateway', async () => {
    await ask('tagged', { 'x-tollgate-cache-tags': 'persona:support' })
    assert.equal((await ask('tagged')).cache, 'HIT')
    const byTag = await cli(['invalidate', '--tag', 'persona:support', '--url', gateway.url])
    assert.equal(byTag.code, 0, byTag.stderr)
    assert.match(byTag.stdout, /^invalidated tags persona:support in namespace \S+\n$/)
    assert.equal((await ask('tagged')).cache, 'MISS')

    const first = await ask('keyed')
    assert.match(String(first.key), /^[0-9a-f]{64}$/)
    const byKey = await cli(['invalidate', '--key', String(first.key), '--url', gateway.url])
    assert.equal(byKey.code, 0, byKey.stderr)
    assert.match(byKey.stdout, /^deleted keys [0-9a-f]{64} in namespace/)
    assert.equal((await ask('keyed')).cache, 'MISS')

    await ask('spaced', { 'x-tollgate-cache-namespace': 'docs' })
    assert.equal((await ask('spaced', { 'x-tollgate-cache-namespace': 'docs' })).cache, 'HIT')
    assert.equal((await ask('spaced')).cache, 'MISS', 'another namespace')
    const byNamespace = await cli(['invalidate', '--namespace', 'docs', '--url', gateway.url])
    assert.equal(byNamespace.code, 0, byNamespace.stderr)
    assert.match(byNamespace.stdout, /^cleared in namespace \S*docs\n$/)
    assert.equal((await ask('spaced', { 'x-tollgate-cache-namespace': 'docs' })).cache, 'MISS')
    assert.equal((await ask('spaced')).cache, 'HIT', 'the default namespace was left alone')
  })

  it('invalidate refuses unclear requests before asking; the gateway refuses a bad one; --help per command', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['invalidate', '--url', gateway.url], 2, /say what to invalidate/],
      [['invalidate', '--tag', 'a', '--clear', '--url', gateway.url], 2, /got --tag and --clear/],
      [['invalidate', '--tag', 'a', '--tenant', 't', '--all-tenants', '--url', gateway.url], 2, /exclude each other/],
      [['invalidate', '--tag', ',', '--url', gateway.url], 2, /--tag: an empty tag/],
      [['invalidate', '--key', 'not-hex', '--url', gateway.url], 1, /answered 400: keys\.0: cache keys as the x-tollgate-cache-key header shows them/],
      [['invalidate', '--tag', 'a', '--tenant', 'nobody', '--url', gateway.url], 1, /answered 404: No tenant nobody/],
    ]
    for (const [args, code, message] of cases) {
      const run = await cli(args)
      assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`)
      assert.match(run.stderr, message, args.join(' '))
    }
    for (const command of ['stats', 'invalidate']) {
      const help = await cli([command, '--help'])
      assert.equal(help.code, 0)
      assert.match(help.stdout, new RegExp(`^Usage: tollgate ${command}`))
      assert.match(help.stdout, /TOLLGATE_ADMIN_TOKEN/)
    }
    const top = await cli(['--help'])
    for (const command of ['demo', 'stats', 'invalidate']) assert.match(top.stdout, new RegExp(`^ {2}${command} `, 'm'))
  })
})
