import { setTimeout as sleep } from 'node:timers/promises'
import type { Transformer } from 'grammy'
import { z } from 'zod'
import { DEFAULTS } from '../../core/defaults.js'
import type { Duration } from '../../core/duration.js'
import { InvalidOptionError } from '../../core/errors.js'
import { TypedEmitter } from '../../core/events.js'
import { parseOptions, positiveTimerMs } from '../../core/options.js'
import type { Algorithm, RateLimiterLogger, RuleOptions } from '../../ratelimit/options.js'
import { createRateLimiter, type RateLimiter } from '../../ratelimit/rate-limiter.js'
import type { Store } from '../../stores/types.js'
import { FloodControlTimeoutError } from './errors.js'
import { FloodWaits } from './flood-waits.js'
import { messagesOf, PACED_METHODS, type Target, targetOf } from './paced-methods.js'

/** One pacing limit: `limit` messages per `window`. */
export interface PaceRule {
  limit: number
  /** `'1s'`, `'1m'`, or milliseconds. */
  window: Duration
  /** Default `'sliding-window'`: never more than `limit` in any `window`, which is how Telegram counts. */
  algorithm?: Algorithm
  /** Token bucket only: messages that may go at once. Default `limit`. */
  burst?: number
}

export interface FloodControlOptions {
  /**
   * Where the pacing counters and flood waits live: the same Redis store for every process of the bot,
   * so together they keep to Telegram's limits. Must run scripts (memory or Redis). Required.
   */
  store: Store
  /**
   * The bot these limits belong to (Telegram counts per bot token): its numeric id, the part of the
   * token before `:`. Keys carry it, so bots sharing a store keep their counters apart. Required.
   */
  botId: string | number
  /** Messages per bot, over all chats, or false. Default 30 per second (Telegram's broadcast limit). */
  perBot?: PaceRule | false
  /** Messages per chat, groups included, or false. Default 1 per second. */
  perChat?: PaceRule | false
  /** Messages per group, supergroup or channel (negative chat ids), or false. Default 20 per minute. */
  perGroup?: PaceRule | false
  /** The methods paced and guarded against flood waits; others go straight through. Default {@link PACED_METHODS}. */
  methods?: readonly string[]
  /**
   * Longest a call waits for its turn (pacing and flood waits together). A call whose turn would come
   * later is not sent and throws `FloodControlTimeoutError` (`E_FLOOD_CONTROL_TIMEOUT`), or, when
   * Telegram's own `retry_after` is that long, Telegram's 429 is returned as it is. Default 1 minute.
   */
  maxWait?: Duration
  /** Times one call is sent again after a 429 (once its wait is over). Default 3. */
  maxRetries?: number
  /**
   * What a 429 holds back, for every process: `'chat'`, the calls to the chat the refused call was for
   * (calls that name no chat hold the bot), or `'bot'`, every paced call of the bot. Default `'chat'`:
   * with the pacing keeping the bot under its global rate, a 429 is about one busy chat, and stopping
   * every chat for it would make all users wait for one.
   */
  floodWaitScope?: 'chat' | 'bot'
  /** When the store fails: `'fallback'` (in-memory pacing per process, logged once), `'allow'` or `'deny'`. Default `'fallback'`. */
  onStoreError?: 'fallback' | 'allow' | 'deny'
  /** Bot processes sharing the limits; the memory fallback paces each to `limit / instances`. Default 1. */
  instances?: number
  /** Receives one line when the store fails and one when it answers again; false for none. Default `console`. */
  logger?: RateLimiterLogger | false
}

export interface FloodControlEvents extends Record<string, unknown> {
  /** A call waits before it is sent: for its turn (`pacing`) or a flood wait (`flood-wait`). */
  wait: { method: string; chat: string | undefined; ms: number; reason: 'pacing' | 'flood-wait' }
  /** Telegram answered 429: the wait is recorded for every process. */
  'flood-wait': { method: string; chat: string | undefined; retryAfterMs: number; scope: 'chat' | 'bot' }
}

/** The transformer (`bot.api.config.use(it)`), with its limiter, events and `close()`. */
export type FloodControlTransformer = Transformer & {
  readonly limiter: RateLimiter | undefined
  readonly events: TypedEmitter<FloodControlEvents>
  /** Closes the limiter it built (never the store). */
  close(): Promise<void>
}

const paceRule = z.union([
  z.literal(false),
  z.object({ limit: z.unknown(), window: z.unknown(), algorithm: z.unknown().optional(), burst: z.unknown().optional() }).strict(),
])

const schema = z
  .object({
    store: z.custom<Store>((v) => typeof (v as Store)?.pttl === 'function' && (v as Store).capabilities?.scripts === true, {
      message: 'a Store from createStore() that runs scripts (memory or Redis)',
    }),
    botId: z.union([z.string().regex(/^[\w-]{1,64}$/), z.number().int().nonnegative()], { message: "the bot's id (the token's part before ':')" }),
    perBot: paceRule.optional(),
    perChat: paceRule.optional(),
    perGroup: paceRule.optional(),
    methods: z.array(z.string().regex(/^\w{1,64}$/, { message: 'a Bot API method name' })).optional(),
    maxWait: positiveTimerMs.default(DEFAULTS.grammy.maxWaitMs),
    maxRetries: z.number().int().min(0).max(100).default(DEFAULTS.grammy.maxRetries),
    floodWaitScope: z.enum(['chat', 'bot'], { message: "'chat' or 'bot'" }).default('chat'),
    onStoreError: z.unknown().optional(),
    instances: z.unknown().optional(),
    logger: z.unknown().optional(),
  })
  .strict()

const RULES = [
  { option: 'perBot', name: 'bot', scope: undefined, defaults: DEFAULTS.grammy.perBot },
  { option: 'perChat', name: 'chat', scope: 'chat', defaults: DEFAULTS.grammy.perChat },
  { option: 'perGroup', name: 'group', scope: 'group', defaults: DEFAULTS.grammy.perGroup },
] as const

/** Telegram's answer to a flood: `{ ok: false, error_code: 429, parameters: { retry_after: seconds } }`. */
function retryAfterMsOf(result: unknown): number | undefined {
  const r = result as { ok?: boolean; error_code?: number; parameters?: { retry_after?: unknown } } | undefined
  if (r?.ok !== false || r.error_code !== 429) return undefined
  const seconds = r.parameters?.retry_after
  return typeof seconds === 'number' && seconds > 0 ? Math.ceil(seconds * 1000) : 1000
}

/**
 * A grammY API transformer that keeps outgoing calls within Telegram's limits for all the bot's
 * processes together: before a paced call is sent it waits for its turn in the shared limiter (per bot,
 * per chat, per group), and when Telegram still answers 429 with `retry_after`, it records the wait in
 * the store so every process holds its calls to that chat (or bot) until it is over, then sends the
 * call again. Install it last (`bot.api.config.use(floodControl(...))`), so it wraps the others.
 */
export function floodControl(options: FloodControlOptions): FloodControlTransformer {
  const parsed = parseOptions(schema, options)
  const rules: RuleOptions[] = []
  const origin: string[] = []
  for (const { option, name, scope, defaults } of RULES) {
    const given = options[option]
    if (given === false) continue
    rules.push({ name, ...(scope ? { scope } : {}), ...(given ?? { limit: defaults.limit, window: defaults.windowMs }) })
    origin.push(option)
  }
  const botId = String(parsed.botId)
  let limiter: RateLimiter | undefined
  try {
    limiter =
      rules.length === 0
        ? undefined
        : createRateLimiter({
            store: options.store,
            rules,
            namespace: 'tg-out',
            ...(options.onStoreError !== undefined ? { onStoreError: options.onStoreError } : {}),
            ...(options.instances !== undefined ? { instances: options.instances } : {}),
            ...(options.logger !== undefined ? { logger: options.logger } : {}),
          })
  } catch (err) {
    // The limiter names a rule `rules.1.window`; the caller wrote `perChat.window`.
    const at = err instanceof InvalidOptionError ? /^rules\.(\d+)(\..*)?$/.exec(err.option) : null
    if (at && err instanceof InvalidOptionError) throw new InvalidOptionError(`${origin[Number(at[1])]}${at[2] ?? ''}`, err.value, err.expected, { cause: err })
    throw err
  }
  const quotas = new Map(limiter?.rules.map((rule) => [rule.name, rule.code === 't' ? rule.param : rule.limit]))
  const methods = new Set(parsed.methods ?? PACED_METHODS)
  const waits = new FloodWaits(options.store, botId, DEFAULTS.grammy.localFloodWaits)
  const events = new TypedEmitter<FloodControlEvents>()
  const { maxWait, maxRetries, floodWaitScope } = parsed

  /** Waits out flood waits and takes a turn from the limiter; throws when that would take past `deadline`. */
  async function takeTurn(method: string, target: Target | undefined, messages: number, deadline: number, signal?: AbortSignal): Promise<void> {
    const cost = Object.fromEntries([...quotas].map(([name, quota]) => [name, Math.min(messages, quota)]))
    const scopes = target ? { chat: target.chat, ...(target.group ? { group: target.chat } : {}) } : undefined
    for (;;) {
      const flood = await waits.remaining(target?.chat)
      if (flood > 0) {
        await pause(method, target, flood, 'flood-wait', deadline, signal)
        continue
      }
      if (!limiter) return
      const decision = await limiter.consume(botId, { cost, ...(scopes ? { scopes } : {}) })
      if (decision.allowed) return
      await pause(method, target, decision.retryAfterMs, 'pacing', deadline, signal)
    }
  }

  async function pause(method: string, target: Target | undefined, ms: number, reason: 'pacing' | 'flood-wait', deadline: number, signal?: AbortSignal): Promise<void> {
    if (!(Date.now() + ms <= deadline)) throw new FloodControlTimeoutError(method, target?.chat, ms, reason, maxWait)
    events.emit('wait', { method, chat: target?.chat, ms, reason })
    await sleep(Math.max(1, Math.ceil(ms)), undefined, signal ? { signal } : {})
  }

  const transformer = (async (prev, method, payload, apiSignal) => {
    if (!methods.has(method)) return prev(method, payload, apiSignal)
    // grammY types its signal with an AbortController shim; at run time it is Node's own.
    const signal = apiSignal as AbortSignal | undefined
    const target = targetOf(payload)
    const messages = messagesOf(method, payload)
    const deadline = Date.now() + maxWait
    for (let attempt = 0; ; attempt++) {
      await takeTurn(method, target, messages, deadline, signal)
      const result = await prev(method, payload, apiSignal)
      const retryAfterMs = retryAfterMsOf(result)
      if (retryAfterMs === undefined) return result
      const scope = floodWaitScope === 'chat' && target ? 'chat' : 'bot'
      await waits.record(scope === 'chat' ? target?.chat : undefined, retryAfterMs)
      events.emit('flood-wait', { method, chat: target?.chat, retryAfterMs, scope })
      // Out of retries, or Telegram's wait is past the budget: its own 429 is the honest answer.
      if (attempt >= maxRetries || Date.now() + retryAfterMs > deadline) return result
    }
  }) as Transformer

  return Object.assign(transformer, {
    limiter,
    events,
    close: async () => {
      await limiter?.close()
    },
  })
}
