import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))
const OFFLINE = new URL('../harness/offline.js', import.meta.url).href
const FAKE_TTY = new URL('../harness/fake-tty.js', import.meta.url).href
const PROGRESS = new URL('../../src/cli/demo/progress.js', import.meta.url).href
const HIDE_CURSOR = '\u001b[?25l'
const SHOW_CURSOR = '\u001b[?25h'

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Nothing the CLI could use to reach a real gateway, provider or Redis. */
function env(): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = { ...process.env, TOLLGATE_ADMIN_TOKEN: 'admin-token-for-the-usage-tests' }
  for (const name of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'REDIS_URL', 'TOLLGATE_STORE_URL', 'TOLLGATE_CONFIG']) delete clean[name]
  return clean
}

function run(nodeArgs: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, nodeArgs, { env: env(), timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error.code as number | undefined) ?? null) : 0, signal: error?.signal ?? null, stdout, stderr }),
    )
    child.stdin?.end(input)
  })
}

const cli = (args: string[], input?: string) => run(['--import', OFFLINE, CLI, ...args], input)

/** The cursor is shown again after the bars last hid it. */
function cursorRestored(text: string): boolean {
  const hidden = text.lastIndexOf(HIDE_CURSOR)
  return hidden !== -1 && text.indexOf(SHOW_CURSOR, hidden) !== -1
}

describe('CLI usage errors and exits', { timeout: 120_000 }, () => {
  it('usage errors exit 2 with one line and no stack, credentials never echoed', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['stats', '--jsonx'], /Unknown option '--jsonx' \(tollgate stats --help\)/],
      [['stats', '--json=1'], /'--json' does not take an argument/],
      [['invalidate', '--tag'], /argument missing/],
      [['demo', '--bogus'], /Unknown option '--bogus' \(tollgate demo --help\)/],
      [['start', '--port', 'eighty'], /--port: expected a port number/],
      [['stats', '--url', 'http://127.0.0.1:9/?x=1'], /--url: the gateway's root URL takes no query or fragment/],
      [['stats', '--url', 'http://127.0.0.1:9/#frag'], /takes no query or fragment/],
      [['stats', '--url', 'http://admin:hunter2@127.0.0.1:9'], /--url: no credentials in the URL, got "http:\/\/\*\*\*@127\.0\.0\.1:9"/],
      [['invalidate', '--clear', '--url', 'ftp://admin:hunter2@127.0.0.1:9'], /--url: expected an http\(s\) URL, got "ftp:\/\/\*\*\*@/],
      [['check-config', 'a.yaml', 'b.yaml'], /takes one file at most/],
      [['keys'], /keys: expected create or hash/],
      [['keys', 'rotate'], /unknown keys command "rotate"/],
      [['frobnicate'], /unknown command "frobnicate" \(tollgate --help lists them\)/],
    ]
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await cli(args)
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`)
      assert.match(stderr, message, args.join(' '))
      assert.equal(stderr.trim().split('\n').length, 1, `one line, no stack: ${stderr}`)
      assert.doesNotMatch(stderr, /hunter2/, 'credentials are never printed')
      assert.equal(stdout, '', args.join(' '))
    }
  })

  it('keys hash refuses more than 4096 bytes on stdin in one line, exit 2', async () => {
    const { code, stdout, stderr } = await cli(['keys', 'hash'], 'k'.repeat(5000))
    assert.equal(code, 2, stderr)
    assert.match(stderr, /^tollgate: keys hash: more than 4096 bytes on stdin/)
    assert.equal(stderr.trim().split('\n').length, 1, `one line, no stack: ${stderr}`)
    assert.equal(stdout, '')
  })

  it('a reader that goes away (| head) ends the demo quietly: exit 0, no stack', async () => {
    const child = spawn(process.execPath, ['--import', OFFLINE, CLI, 'demo', '--exit', '--port', '0'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] })
    // Closed before the demo writes its first line: that write fails with EPIPE.
    child.stdout.destroy()
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null]
    assert.equal(stderr, '', 'nothing said')
    assert.deepEqual([code, signal], [0, null])
  })

  it('Ctrl-C during the progress bars shows the cursor again and stops the demo (exit 130)', async () => {
    const child = spawn(process.execPath, ['--import', OFFLINE, '--import', FAKE_TTY, CLI, 'demo', '--exit', '--port', '0'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = once(child, 'exit')
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
    while (!stderr.includes(HIDE_CURSOR)) {
      assert.equal(child.exitCode, null, `the demo ended before its bars:\n${stdout}${stderr}`)
      await Promise.race([once(child.stderr, 'data'), exited])
    }
    child.kill('SIGINT')
    const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null]
    assert.deepEqual([code, signal], [130, null], stderr)
    assert.ok(cursorRestored(stderr), 'the cursor is shown again')
    assert.match(stdout, /SIGINT: stopped before the workload was done/)
    assert.doesNotMatch(stdout, /upstream calls made/, 'no table of a run cut short')
    assert.doesNotMatch(stderr, /offline: blocked|Error/)
  })

  it('a process.exit() while the bars run shows the cursor again', async () => {
    const script = `const { createProgress } = await import(${JSON.stringify(PROGRESS)})
      const progress = createProgress([{ name: 'pass', total: 10 }], process.stderr, () => {})
      progress.advance('pass')
      process.exit(3)`
    const { code, stderr } = await run(['--import', FAKE_TTY, '--input-type=module', '-e', script])
    assert.equal(code, 3, stderr)
    assert.ok(cursorRestored(stderr), `the cursor is shown again: ${JSON.stringify(stderr)}`)
  })
})
