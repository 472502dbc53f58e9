import { seededRandom } from './random.js'

/** One chat completion request of the demo, as a client sends it. */
export interface DemoRequest {
  /** Its place in the workload, from 0. */
  readonly id: number
  /** The end user (an agent or a script), sent as the body's `user`: per-user limits count by it. */
  readonly user: string
  readonly body: Readonly<Record<string, unknown>>
}

/** The demo's traffic: steps in order, the requests of a step sent at the same moment. */
export interface Workload {
  readonly steps: ReadonlyArray<readonly DemoRequest[]>
  readonly requests: number
  /** Requests whose model and messages an earlier request already sent. */
  readonly repeats: number
  /** Steps of more than one identical request (concurrent duplicates). */
  readonly bursts: number
  readonly users: readonly string[]
  /** The per-user request limit the demo's gateway enforces, and its window. */
  readonly userLimit: { readonly limit: number; readonly windowMs: number }
}

/** The models the workload calls; their prices are the built-in table's. */
export const DEMO_MODELS = ['gpt-4.1', 'gpt-4.1-mini'] as const

const USER_LIMIT = { limit: 20, windowMs: 60_000 }

const FILES = ['src/cache/cache.ts', 'src/cache/lease.ts', 'src/calls/producer.ts', 'src/calls/upstream.ts', 'src/gateway/server.ts', 'src/gateway/auth.ts', 'src/llm/pricing.ts', 'src/llm/sse-parser.ts', 'src/ratelimit/decide.ts', 'src/ratelimit/rate-limiter.ts', 'src/sessions/session-store.ts', 'src/stores/redis/redis-store.ts', 'src/stores/memory-store.ts', 'src/core/config.ts', 'src/core/durations.ts', 'src/cli/main.ts']
const TASKS = [
  'Summarise what {file} does and which modules depend on it.',
  'List the risks of changing the public interface of {file}.',
  'Write unit tests for the exported functions of {file}.',
  'Review the latest diff of {file} for bugs and missing error handling.',
  'Explain how {file} handles timeouts and cancellation.',
  'Propose a smaller design for {file} without changing its behaviour.',
]

interface Agent {
  user: string
  model: (typeof DEMO_MODELS)[number]
  role: string
  /** Requests of its own (bursts add more). */
  calls: number
}

/** An agent team working on one repository; each stays under the per-user limit. */
const AGENTS: Agent[] = [
  { user: 'planner', model: 'gpt-4.1', role: 'You are the planner of a software team: break the task into steps and assign them.', calls: 18 },
  { user: 'researcher', model: 'gpt-4.1-mini', role: 'You are the researcher: read code and answer questions about it precisely.', calls: 15 },
  { user: 'coder', model: 'gpt-4.1', role: 'You are the coder: write small, tested changes in TypeScript.', calls: 15 },
  { user: 'reviewer', model: 'gpt-4.1-mini', role: 'You are the reviewer: find bugs, unclear names and missing tests.', calls: 18 },
  { user: 'tester', model: 'gpt-4.1-mini', role: 'You are the tester: write test plans and failing cases.', calls: 15 },
]
/** Who asks the shared summariser for the same file at the same moment (a fan-out). */
const BURST_USERS = ['researcher', 'coder', 'tester']
const BURSTS = 4
/** Share of an agent's own requests that repeat one of its earlier requests exactly. */
const REPEAT_SHARE = 0.4

/**
 * The built-in workload, the same for a given seed: five agents sharing a long project context, each
 * repeating some of its own earlier requests (the cache's everyday case); four fan-outs where three
 * agents send the summariser the same request at once (single-flight and live-stream joining); a
 * script in a retry loop and a nightly evaluation batch, both over the per-user limit (429s). Half of
 * the requests stream.
 */
export function buildWorkload(seed: number): Workload {
  const random = seededRandom(seed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  const context = projectContext(random)
  const chat = (user: string, model: string, system: string, prompt: string) => ({ user, body: { model, messages: [{ role: 'system', content: system }, { role: 'user', content: prompt }], user } })
  type Draft = ReturnType<typeof chat>

  const queues: Draft[][] = AGENTS.map((agent) => {
    const sent: Draft[] = []
    for (let i = 0; i < agent.calls; i++) {
      const repeat = sent.length > 0 && random() < REPEAT_SHARE
      sent.push(repeat ? pick(sent) : chat(agent.user, agent.model, `${agent.role}\n\n${context}`, pick(TASKS).replace('{file}', pick(FILES))))
    }
    return sent
  })
  // A script re-sending the same three classifications in a loop: cache hits until its limit stops it.
  const tickets = [0, 1, 2].map((n) => chat('retry-loop', 'gpt-4.1-mini', 'Classify the support ticket as bug, question or feature request. Answer with one word.', `Ticket #${4711 + n}: ${pick(TASKS).replace('{file}', pick(FILES))}`))
  queues.push(Array.from({ length: USER_LIMIT.limit + 10 }, (_, i) => tickets[i % tickets.length] as Draft))
  // A batch of distinct evaluation prompts: all misses, the last ones over the limit.
  queues.push(Array.from({ length: USER_LIMIT.limit + 6 }, (_, i) => chat('nightly-eval', 'gpt-4.1', `You grade answers of a coding assistant.\n\n${context}`, `Grade answer ${i + 1} of the evaluation set for: ${TASKS[i % TASKS.length]?.replace('{file}', FILES[i % FILES.length] as string)}`)))

  const drafts: Draft[][] = []
  const total = queues.reduce((sum, queue) => sum + queue.length, 0)
  // Interleaved at random, weighted by what each sender has left, as a team's calls arrive.
  for (let left = total; left > 0; left--) {
    let at = random() * left
    const queue = queues.find((q) => (at -= q.length) < 0) as Draft[]
    drafts.push([queue.shift() as Draft])
  }
  for (let b = 0; b < BURSTS; b++) {
    const shared = chat('', 'gpt-4.1-mini', `Summarise the file for a teammate in five bullet points.\n\n${context}`, `Summarise ${FILES[(b * 5) % FILES.length]} for the team.`)
    const at = Math.floor(((b + 0.5) / BURSTS) * drafts.length)
    drafts.splice(at, 0, BURST_USERS.map((user) => ({ user, body: { ...shared.body, user } })))
  }

  let id = 0
  const seen = new Set<string>()
  let repeats = 0
  const steps = drafts.map((step) =>
    step.map(({ user, body }) => {
      const content = JSON.stringify([body.model, body.messages])
      if (seen.has(content)) repeats++
      seen.add(content)
      // Every other request streams, by a coin per request: a repeat may stream where its first did not.
      return { id: id++, user, body: { ...body, stream: random() < 0.5 } }
    }),
  )
  const users = [...new Set(steps.flat().map((request) => request.user))]
  return { steps, requests: id, repeats, bursts: BURSTS, users, userLimit: USER_LIMIT }
}

/** A few kilobytes of repository notes every agent sends as context: what makes agent prompts long (and costly). */
function projectContext(random: () => number): string {
  const lines = ['Project notes (shared by the whole team):']
  for (let i = 0; i < 120; i++) {
    const file = FILES[Math.floor(random() * FILES.length)] as string
    lines.push(`- ${file}: ${TASKS[Math.floor(random() * TASKS.length)]?.replace('{file}', 'it').toLowerCase()} Owner: team ${1 + Math.floor(random() * 4)}.`)
  }
  return lines.join('\n')
}
