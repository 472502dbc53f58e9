// The real `ai` package, both supported majors, behind one small interface so every behaviour is
// tested against each: ai@6 (specification v3) always, ai@7 (v4) where its engines allow it.
import { before, describe } from 'node:test'
import type { Cache } from '../../../src/index.js'

export interface ModelLike {
  readonly provider: string
  readonly modelId: string
  doGenerate(params: Record<string, unknown>): Promise<Record<string, unknown> & { content: unknown[]; providerMetadata?: Record<string, unknown> }>
  doStream(params: Record<string, unknown>): Promise<{ stream: ReadableStream<Part> }>
}

export interface MockModel extends ModelLike {
  doGenerateCalls: Array<Record<string, unknown>>
  doStreamCalls: Array<Record<string, unknown>>
}

export interface Part {
  type: string
  [field: string]: unknown
}

interface TextResult {
  text: string
  providerMetadata: { tollgate?: { cache: string } } | undefined
  response: { timestamp: Date }
}

export interface Kit {
  name: string
  generateText(options: Record<string, unknown>): Promise<TextResult>
  streamText(options: Record<string, unknown>): {
    text: PromiseLike<string>
    providerMetadata: PromiseLike<TextResult['providerMetadata']>
    response: PromiseLike<TextResult['response']>
    fullStream: AsyncIterable<Part>
  }
  wrapLanguageModel(options: { model: ModelLike; middleware: unknown }): ModelLike
  mockModel(options: { doGenerate?: (params: Record<string, unknown>) => Promise<unknown>; doStream?: (params: Record<string, unknown>) => Promise<unknown>; modelId?: string }): MockModel
}

async function load(name: string, pkg: string, mock: string): Promise<Kit> {
  const ai = (await import(pkg)) as Record<string, unknown>
  const test = (await import(`${pkg}/test`)) as Record<string, unknown>
  const Mock = test[mock] as new (options: object) => MockModel
  return {
    name,
    generateText: ai.generateText as Kit['generateText'],
    streamText: ai.streamText as Kit['streamText'],
    wrapLanguageModel: ai.wrapLanguageModel as Kit['wrapLanguageModel'],
    mockModel: (options) => new Mock(options),
  }
}

const nodeMajor = Number(process.versions.node.split('.')[0])

const majors = [
  { name: 'ai@6', load: () => load('ai@6', 'ai6', 'MockLanguageModelV3'), skip: false as const },
  {
    name: 'ai@7',
    load: () => load('ai@7', 'ai', 'MockLanguageModelV4'),
    skip: nodeMajor >= 22 ? (false as const) : `not applicable on Node ${nodeMajor}: ai@7 requires Node >= 22`,
  },
]

/**
 * Registers `suite` once per supported major of `ai`. Where a major cannot run (ai@7 below Node 22),
 * its suite is still registered and reported as skipped with the reason, never silently absent.
 */
export function forEachMajor(title: string, suite: (kit: () => Kit) => void): void {
  for (const major of majors) {
    describe(`${title} (${major.name})`, { skip: major.skip }, () => {
      let kit: Kit | undefined
      before(async () => {
        kit = await major.load()
      })
      suite(() => {
        if (!kit) throw new Error(`${major.name} not loaded`)
        return kit
      })
    })
  }
}

export const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
})

export const stop = { unified: 'stop', raw: 'stop' }
export const TIMESTAMP = new Date('2025-03-04T05:06:07.089Z')

/** A model answer: one text part, a response timestamp, 30 + 20 tokens. */
export function answer(text: string) {
  return { content: [{ type: 'text', text }], finishReason: stop, usage: usage(30, 20), warnings: [], response: { id: 'resp-1', modelId: 'mock-model-id', timestamp: TIMESTAMP } }
}

/** The parts of a streamed answer of `deltas`, with its response metadata (a Date) and usage. */
export function streamParts(deltas: string[]): Part[] {
  return [
    { type: 'stream-start', warnings: [] },
    { type: 'response-metadata', id: 'resp-1', modelId: 'mock-model-id', timestamp: TIMESTAMP },
    { type: 'text-start', id: 't1' },
    ...deltas.map((delta) => ({ type: 'text-delta', id: 't1', delta })),
    { type: 'text-end', id: 't1' },
    { type: 'finish', finishReason: stop, usage: usage(30, 20) },
  ]
}

/** A stream of `parts`, then an error if `error` is given. */
export function partStream(parts: Part[], error?: Error): ReadableStream<Part> {
  return new ReadableStream<Part>({
    start(controller) {
      for (const part of parts) controller.enqueue(part)
      if (error) controller.error(error)
      else controller.close()
    },
  })
}

export async function readAll(stream: ReadableStream<Part>): Promise<Part[]> {
  const parts: Part[] = []
  for await (const part of stream as unknown as AsyncIterable<Part>) parts.push(part)
  return parts
}

/** A promise and its resolver, to hold a model call open until a test says so. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

/** Resolves at the cache's next `coalesced` event: a second caller is waiting for the first one's answer. */
export function nextCoalesced(cache: Cache): Promise<void> {
  return new Promise((resolve) => cache.events.once('coalesced', () => resolve()))
}

/** The prompt of a direct `doGenerate`/`doStream` call, in the model's own format. */
export const modelPrompt = (text: string) => [{ role: 'user', content: [{ type: 'text', text }] }]

/** `promise`, or a failure naming `what` once it has hung past a generous bound (a hang, not a timing). */
export async function settled<T>(promise: PromiseLike<T>, what: string, boundMs = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${boundMs} ms`)), boundMs)
  })
  try {
    return await Promise.race([promise, hung])
  } finally {
    clearTimeout(timer)
  }
}
