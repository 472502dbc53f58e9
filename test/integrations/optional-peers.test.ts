import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { it } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const built = (path: string) => pathToFileURL(join(root, 'build/src', path)).href

/** The optional peers: a user who installed none of them must be able to import `tollgate`. */
const PEERS = ['express', 'express4', 'grammy', 'ai', 'ai6', 'openai', '@ai-sdk/provider']

/**
 * Imports `module` in a fresh Node whose resolver refuses every optional peer, as if none were
 * installed: it loads only if nothing on its import graph reaches one at run time.
 */
async function importWithoutPeers(module: string): Promise<{ ok: boolean; stderr: string }> {
  const hooks = `export async function resolve(specifier, context, next) {
    if (${JSON.stringify(PEERS)}.some((peer) => specifier === peer || specifier.startsWith(peer + '/'))) throw new Error('optional peer loaded: ' + specifier)
    return next(specifier, context)
  }`
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)})`
  try {
    await promisify(execFile)(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, '--input-type=module', '-e', `await import(${JSON.stringify(module)})`], { timeout: 30_000 })
    return { ok: true, stderr: '' }
  } catch (err) {
    return { ok: false, stderr: String((err as { stderr?: string }).stderr ?? err) }
  }
}

it('importing tollgate loads none of the optional framework peers', async () => {
  const result = await importWithoutPeers(built('index.js'))
  assert.ok(result.ok, result.stderr)
})

it('the check itself works: importing a peer under it fails', async () => {
  const result = await importWithoutPeers('openai')
  assert.equal(result.ok, false)
  assert.match(result.stderr, /optional peer loaded: openai/)
})

// Each integration imports its framework for types only: a bot that never uses tollgate/grammy's
// limiter, or an app that imports tollgate/openai before the SDK, pays nothing for it.
for (const name of ['openai', 'grammy', 'ai-sdk', 'fastify', 'express']) {
  it(`tollgate/${name} loads without any optional peer`, async () => {
    const result = await importWithoutPeers(built(`integrations/${name}/index.js`))
    assert.ok(result.ok, result.stderr)
  })
}
