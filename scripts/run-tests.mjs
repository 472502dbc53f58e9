// Runs every compiled test file with Node's built-in test runner. TEST_NODE picks another Node
// binary (CI runs the suite on Node 20 and on Node 24 this way).
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return find(path)
    return name.endsWith('.test.js') ? [path] : []
  })
}

const only = process.argv.slice(2)
const files = find('build/test')
  .filter((file) => only.length === 0 || only.some((pattern) => file.includes(pattern)))
  .sort()
const node = process.env.TEST_NODE || process.execPath
const result = spawnSync(node, ['--test', '--test-concurrency=2', '--enable-source-maps', ...files], { stdio: 'inherit' })
process.exit(result.status ?? 1)
