import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { ParsedBodies } from '../../src/gateway/parsed-bodies.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

// A body of many small objects ({} is 2 bytes of text, about 64 parsed and frozen) is far larger
// parsed than written: counted by its text alone, the default 8 MiB pinned about 90 MB (found by a
// hostile review). The bound counts an estimate of the parsed objects too.
describe('server.bodyMemoBytes bounds what the kept bodies hold, not only their text', () => {
  it('keeps no more than about twice its bytes for bodies of many empty objects', () => {
    const maxBytes = 8 * 1024 * 1024
    const bodies = new ParsedBodies(maxBytes)
    gc()
    const before = process.memoryUsage().heapUsed
    for (let i = 0; i < 200; i++) {
      const text = `{"model":"m${i}","prompt":[${Array(43_000).fill('{}').join(',')}]}`
      bodies.remember(text, 'acme', JSON.parse(text) as object)
    }
    gc()
    const kept = process.memoryUsage().heapUsed - before
    assert.ok(kept <= 3 * maxBytes, `kept ${(kept / 1048576).toFixed(1)} MiB for bodyMemoBytes of ${maxBytes / 1048576} MiB`)
  })
})
