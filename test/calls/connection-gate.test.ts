import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConnectionGate } from '../../src/calls/connection-gate.js'

/** Acquires a slot for `tenant`, noting `label` in `granted` once it is given. */
function track(gate: ConnectionGate, tenant: string, label: string, granted: string[], signal?: AbortSignal): Promise<() => void> {
  return gate.acquire(tenant, signal).then((release) => {
    granted.push(label)
    return release
  })
}

const turn = () => new Promise((resolve) => setImmediate(resolve))

describe('connection gate', () => {
  it('a tenant holds at most its share; freed slots go round-robin between the tenants waiting', async () => {
    const gate = new ConnectionGate('u', 3, 2, 60_000)
    const granted: string[] = []
    const a1 = await track(gate, 'a', 'a1', granted)
    const a2 = await track(gate, 'a', 'a2', granted)
    const waits = [track(gate, 'a', 'a3', granted), track(gate, 'a', 'a4', granted)]
    await turn()
    assert.deepEqual(granted, ['a1', 'a2'], "a's third call waits: a may hold 2")
    const b1 = await track(gate, 'b', 'b1', granted)
    waits.push(track(gate, 'b', 'b2', granted), track(gate, 'c', 'c1', granted))
    await turn()
    assert.deepEqual([gate.inUse, gate.waiting], [3, 4])
    a1()
    await turn()
    assert.deepEqual(granted.slice(3), ['a3'], 'a was first in line')
    b1()
    await turn()
    assert.deepEqual(granted.slice(4), ['b2'], 'then b')
    a2()
    await turn()
    assert.deepEqual(granted.slice(5), ['c1'], 'then c, before a waits again')
    const [a3, a4, b2, c1] = waits
    ;(await a3)?.()
    ;(await a4)?.()
    for (const release of await Promise.all([b2, c1])) release?.()
    assert.deepEqual([gate.inUse, gate.waiting, granted.length], [0, 0, 7])
  })

  it('releasing twice gives back one slot', async () => {
    const gate = new ConnectionGate('u', 1, 1, 60_000)
    const release = await gate.acquire('a')
    release()
    release()
    assert.equal(gate.inUse, 0)
  })

  it('tryAcquire takes a free slot at once and, with none free for the tenant, takes nothing and queues nothing', () => {
    const gate = new ConnectionGate('u', 2, 1, 60_000)
    const a = gate.tryAcquire('a')
    assert.ok(a)
    assert.equal(gate.tryAcquire('a'), undefined, 'a may hold 1')
    const b = gate.tryAcquire('b')
    assert.ok(b)
    assert.equal(gate.tryAcquire('c'), undefined, 'both slots in use')
    assert.deepEqual([gate.inUse, gate.waiting], [2, 0])
    a()
    b()
    assert.equal(gate.inUse, 0)
  })

  it('a waiter that is aborted leaves the line; one that waits too long gets E_UPSTREAM_TIMEOUT', async () => {
    const gate = new ConnectionGate('u', 1, 1, 50)
    const held = await gate.acquire('a')
    const abort = new AbortController()
    const aborted = gate.acquire('b', abort.signal)
    abort.abort()
    await assert.rejects(aborted, { name: 'AbortError' })
    assert.equal(gate.waiting, 0)
    await assert.rejects(gate.acquire('b'), (err: Error & { code?: string }) => err.code === 'E_UPSTREAM_TIMEOUT' && /1 of 1 in use/.test(err.message))
    held()
    assert.deepEqual([gate.inUse, gate.waiting], [0, 0])
  })
})
