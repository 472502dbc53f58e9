import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runSteps } from '../../src/cli/demo/runner.js'
import { buildWorkload, type DemoRequest } from '../../src/cli/demo/workload.js'

describe('demo workload and runner', () => {
  it('the workload is the same for a seed, shaped as promised: 30-50 % repeats, concurrent duplicates, two senders over the limit', () => {
    const workload = buildWorkload(12)
    assert.deepEqual(buildWorkload(12), workload)
    assert.notDeepEqual(buildWorkload(13).steps, workload.steps)
    const requests = workload.steps.flat()
    assert.equal(requests.length, workload.requests)
    assert.deepEqual(requests.map((request) => request.id), [...requests.keys()])
    const share = workload.repeats / workload.requests
    assert.ok(share >= 0.3 && share <= 0.5, `repeats ${share}`)

    const bursts = workload.steps.filter((step) => step.length > 1)
    assert.equal(bursts.length, workload.bursts)
    for (const burst of bursts) {
      assert.equal(new Set(burst.map((request) => JSON.stringify([request.body.model, request.body.messages]))).size, 1, 'a burst is one request sent several times')
      assert.equal(new Set(burst.map((request) => request.user)).size, burst.length, 'by different senders')
    }

    const perUser = new Map<string, number>()
    for (const request of requests) perUser.set(request.user, (perUser.get(request.user) ?? 0) + 1)
    const over = [...perUser].filter(([, count]) => count > workload.userLimit.limit).map(([user]) => user)
    assert.deepEqual(over.sort(), ['nightly-eval', 'retry-loop'])
    assert.ok(requests.every((request) => request.body.user === request.user))
    const streams = requests.filter((request) => request.body.stream === true).length
    assert.ok(streams > requests.length / 4 && streams < (requests.length * 3) / 4, `a mix of streams and JSON: ${streams}`)
  })

  it('runSteps keeps to its concurrency and starts a step\'s requests together', async () => {
    const request = (id: number): DemoRequest => ({ id, user: 'u', body: {} })
    const steps = [[request(0)], [request(1)], [request(2), request(3), request(4)], [request(5)]]
    const pending = new Map<number, () => void>()
    let inFlight = 0
    let most = 0
    const startedWith = new Map<number, number[]>()
    const sendOne = (r: DemoRequest) =>
      new Promise<number>((resolve) => {
        inFlight++
        most = Math.max(most, inFlight)
        startedWith.set(r.id, [...pending.keys()])
        pending.set(r.id, () => {
          inFlight--
          pending.delete(r.id)
          resolve(r.id)
        })
      })
    const done: number[] = []
    const running = runSteps(steps, 3, sendOne, (id) => done.push(id))
    // Answer the oldest request whenever the runner waits, until all are answered.
    while (done.length < 6) {
      await new Promise((resolve) => setImmediate(resolve))
      pending.values().next().value?.()
    }
    assert.deepEqual((await running).sort(), [0, 1, 2, 3, 4, 5])
    assert.equal(most, 3)
    assert.deepEqual(startedWith.get(3), [2], 'request 3 started with 2, before any of its step was answered')
    assert.deepEqual(startedWith.get(4), [2, 3])
    assert.deepEqual(startedWith.get(2), [], 'the step waited until all three fit')
  })
})
