import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

it('loading tollgate/grammy does not load grammY (a bot that does not use it pays nothing)', async () => {
  const entry = new URL('../../../src/integrations/grammy/index.js', import.meta.url).href
  // grammY is CommonJS: whatever loads it, even from ESM, lands in the CommonJS module cache.
  const probe = `import { createRequire } from 'node:module'
const mod = await import(${JSON.stringify(entry)})
const loaded = Object.keys(createRequire(import.meta.url).cache).filter((path) => /[\\\\/]grammy[\\\\/]/.test(path))
console.log(JSON.stringify({ exports: Object.keys(mod).sort(), loaded }))`
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', probe], { cwd: fileURLToPath(new URL('.', import.meta.url)) })
  const { exports, loaded } = JSON.parse(stdout) as { exports: string[]; loaded: string[] }
  assert.deepEqual(exports, ['FloodControlTimeoutError', 'PACED_METHODS', 'floodControl', 'limit', 'sessionStorage', 'updateSession'])
  assert.deepEqual(loaded, [])
})
