// The test suite's fake OpenAI-compatible upstream as a process of its own, for the gateway
// benchmark: prints its base URL, runs until killed.
import { startFakeUpstream } from '../test/fixtures/fake-upstream.js'

const upstream = await startFakeUpstream()
process.stdout.write(`${upstream.url}\n`)
