import calculateSlot from 'cluster-key-slot'
import { StoreCommandError } from '../core/errors.js'
import type { Store } from '../stores/types.js'
import type { StoreScript } from '../stores/types.js'
import { type DecideMode, pushDecision, replyWidth, ruleArgs, type RuleSpec } from './decide.js'
import { decideScript } from './specialised-script.js'

/**
 * One decision waiting for its batch: what to ask, and where its answer goes. The caller's own object
 * (one per decision, no promise of the batcher's own): a decision in flight is garbage the collector
 * must trace, and at 200k decisions a second its pauses were most of the p99.
 */
export interface BatchEntry<T> {
  /** One key per group. */
  readonly keys: readonly string[]
  readonly costs: readonly number[]
  readonly mode: DecideMode
  /** Called once, with this entry's decision or its call's error. */
  settle(decision: T): void
  fail(error: unknown): void
}

/** Reads one decision out of a call's reply, from `offset`: no copy of its numbers per caller. */
export type ReplyDecoder<T> = (reply: readonly number[], offset: number) => T

/**
 * Sends the decisions one limiter asks for in the same tick as one script call (up to `maxBatch`
 * each): one TIME, one call and one round trip for all of them, where each used to pay its own. At
 * 64 decisions in flight most of a remote decision's cost was that per-call part, on both the
 * server (a single-threaded Redis is the usual bottleneck) and the client.
 *
 * Batching changes no decision: the script decides them in order at one server time, each seeing
 * what the ones before it wrote, as if they had arrived one after the other in the same
 * millisecond. It adds no wait either: the batch leaves at the end of the current tick
 * (`process.nextTick`), so a lone decision goes out as it would have alone.
 *
 * On a Cluster a batch holds the decisions of one node: Redis 7 lets a script flagged
 * `allow-cross-slot-keys` touch keys of every slot its node serves, and the script reads every state
 * before it writes any, so a key the node no longer serves fails the call having changed nothing. When one has
 * moved (resharding, failover) the batch goes again slot by slot through ioredis, which follows
 * MOVED and ASK; a server that cannot run the flagged script (before Redis 7) is asked slot by slot
 * from then on.
 */
export class DecisionBatcher<T> {
  readonly #store: Store
  readonly #head: ReadonlyArray<string | number>
  readonly #script: StoreScript<number[]>
  readonly #rules: number
  readonly #maxBatch: number
  readonly #decode: ReplyDecoder<T>
  readonly #bySlot: boolean
  #byNode: boolean
  #queue: BatchEntry<T>[] = []
  #scheduled = false

  /**
   * `maxBatch`: the most rule states one call decides (see the limiter's `batchSize`); `groups`: per
   * rule, which of a decision's keys holds its state (default: a key per rule); `decode`: what each
   * caller gets from its part of the reply.
   */
  constructor(store: Store, rules: readonly RuleSpec[], maxBatch: number, decode: ReplyDecoder<T>, groups?: readonly number[]) {
    this.#store = store
    this.#decode = decode
    this.#head = ruleArgs(rules, undefined, groups)
    this.#script = decideScript(rules, groups)
    this.#rules = rules.length
    // batchSize counts rule states, so that a call's server time stays bounded whatever the rules:
    // a decision of three rules weighs three, and a sliding window one per 12 of its buckets (the
    // default 10 buckets weigh one), as its work grows with them.
    const weight = rules.reduce((sum, rule) => sum + (rule.algo === 's' ? Math.ceil((rule.param + 2) / 12) : 1), 0)
    this.#maxBatch = Math.max(1, Math.floor(maxBatch / weight))
    this.#bySlot = store.capabilities.hashSlots
    this.#byNode = this.#bySlot && store.nodeOf !== undefined && store.runScriptOnNode !== undefined
  }

  /** Queues one decision for this tick's batch; its answer is decoded from the script's reply for it. */
  enqueue(entry: BatchEntry<T>): void {
    this.#queue.push(entry)
    if (this.#scheduled) return
    this.#scheduled = true
    process.nextTick(this.#flush)
  }

  readonly #flush = (): void => {
    this.#scheduled = false
    const queue = this.#queue
    this.#queue = []
    try {
      if (!this.#bySlot) {
        // A tick's worth in one call makes the client and the server take turns: the server waits
        // while the client reads the answers and asks again, and the client waits while the server
        // decides. In two calls the server decides the second while the client answers the first.
        const size = queue.length >= 2 * MIN_HALF ? Math.min(this.#maxBatch, Math.ceil(queue.length / 2)) : this.#maxBatch
        for (let i = 0; i < queue.length; i += size) this.#send(queue.slice(i, i + size))
      } else if (this.#byNode) this.#sendByNode(queue)
      else this.#sendBySlot(queue)
    } catch (error) {
      // A store whose nodeOf throws: outside any caller's stack here, an uncaught throw would end
      // the process. Batches are formed before any is sent, so none of these went out.
      for (const pending of queue) pending.fail(error)
    }
  }

  #sendByNode(queue: BatchEntry<T>[]): void {
    const store = this.#store as Required<Pick<Store, 'nodeOf'>> & Store
    const unknown: BatchEntry<T>[] = []
    // Every key of one decision shares its identity's hash tag, so its first key names its slot.
    const batches = this.#group(queue, (pending) => store.nodeOf(pending.keys[0] as string), unknown)
    for (const [node, batch] of batches) this.#send(batch, node)
    if (unknown.length > 0) this.#sendBySlot(unknown)
  }

  #sendBySlot(queue: BatchEntry<T>[]): void {
    const prefix = this.#store.keyPrefix
    for (const [, batch] of this.#group(queue, (pending) => calculateSlot(prefix + (pending.keys[0] as string)), [])) this.#send(batch)
  }

  /** Batches by group, none over maxBatch; decisions without a group go to `rest`. */
  #group<G>(queue: BatchEntry<T>[], groupOf: (pending: BatchEntry<T>) => G | undefined, rest: BatchEntry<T>[]): Array<[G, BatchEntry<T>[]]> {
    const open = new Map<G, BatchEntry<T>[]>()
    const batches: Array<[G, BatchEntry<T>[]]> = []
    for (const pending of queue) {
      const group = groupOf(pending)
      if (group === undefined) {
        rest.push(pending)
        continue
      }
      const batch = open.get(group)
      if (batch === undefined) open.set(group, [pending])
      else if (batch.length < this.#maxBatch) batch.push(pending)
      else {
        batches.push([group, batch])
        open.set(group, [pending])
      }
    }
    for (const entry of open) batches.push(entry)
    return batches
  }

  #send(batch: BatchEntry<T>[], node?: string): void {
    const args = this.#head.slice()
    const keys: string[] = []
    for (const pending of batch) {
      for (const key of pending.keys) keys.push(key)
      pushDecision(args, pending.mode, pending.costs)
    }
    let call: Promise<number[]>
    try {
      call =
        node === undefined
          ? this.#store.runScript(this.#script, keys, args)
          : (this.#store.runScriptOnNode as NonNullable<Store['runScriptOnNode']>)(this.#script, node, keys, args)
    } catch (error) {
      // A store that throws instead of rejecting: this batch was not sent.
      for (const pending of batch) pending.fail(error)
      return
    }
    call.then(
      (reply) => this.#deliver(batch, reply),
      (error: unknown) => {
        const message = error instanceof Error ? error.message : ''
        if (node !== undefined && NOT_RUN.test(message)) {
          if (UNSUPPORTED.test(message)) this.#byNode = false
          this.#sendBySlot(batch)
          return
        }
        for (const pending of batch) pending.fail(error)
      },
    )
  }

  #deliver(batch: BatchEntry<T>[], reply: number[]): void {
    if (!this.#whole(reply, batch.length)) {
      const error = new StoreCommandError(this.#store.name, `script ${this.#script.name}`, {
        cause: new Error(`expected ${batch.length} decisions (of ${this.#rules} rules each) in the reply, got ${Array.isArray(reply) ? `${reply.length} numbers` : typeof reply}`),
      })
      for (const pending of batch) pending.fail(error)
      return
    }
    let offset = 0
    for (let i = 0; i < batch.length; i++) {
      const pending = batch[i] as BatchEntry<T>
      const at = offset
      offset += replyWidth(reply[at] === 1, this.#rules)
      let decision: T
      try {
        decision = this.#decode(reply, at)
      } catch (error) {
        // Inside a promise callback nobody awaits: a throw here would leave this decision and the
        // rest of the batch unanswered for ever, and reject unhandled (which ends the process).
        pending.fail(error)
        continue
      }
      pending.settle(decision)
    }
  }

  /**
   * Whether the reply holds exactly `decisions` decisions, as the script writes them. Each decision's
   * width follows from its first number (replyWidth), so that one must be 0 or 1; every other must
   * be a number; and a refused decision must name a rule that refused (`toDecision` reports that
   * rule). A garbled reply (a proxy's, a server's, another script's) answers none of its decisions,
   * rather than hand callers strings or arrays, or shift the decisions after it.
   */
  #whole(reply: unknown, decisions: number): boolean {
    if (!Array.isArray(reply)) return false
    const rules = this.#rules
    let offset = 0
    for (let i = 0; i < decisions; i++) {
      const all = reply[offset] as unknown
      if (all !== 0 && all !== 1) return false
      const end = offset + replyWidth(all === 1, rules)
      if (end > reply.length) return false
      for (let x = offset + 1; x < end; x++) if (typeof reply[x] !== 'number') return false
      if (all === 0) {
        let refused = false
        for (let r = 0; r < rules; r++) {
          const allowed = reply[offset + 1 + 4 * r] as number
          if (allowed !== 0 && allowed !== 1) return false
          if (allowed === 0) refused = true
        }
        if (!refused) return false
      }
      offset = end
    }
    return offset === reply.length
  }
}

/** The fewest decisions a call carries when a tick's queue is split in two: fewer cost more per call than the overlap gives. */
const MIN_HALF = 8

/**
 * Errors of a node call that prove nothing was written: a key the node does not serve (met while
 * the script reads, before it writes), the node gone from the topology, or a server that cannot run the flagged
 * script at all (below Redis 7: the shebang does not compile).
 */
const NOT_RUN = /non local key|do not hash to the same slot|no master|CLUSTERDOWN|compil|shebang/i
const UNSUPPORTED = /compil|shebang/i
