import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/**
 * A test fixture running in its own OS process, spoken to with one JSON line per command and per
 * reply. Separate processes are what "across instances" means: no shared memory, own connections.
 */
export class Worker {
  readonly #child: ChildProcess
  readonly #lines: AsyncIterator<string>
  /** The fixture's first line (its readiness, e.g. the URL it listens on). */
  first: unknown

  private constructor(child: ChildProcess) {
    this.#child = child
    this.#lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  }

  /** Starts `fixture` (a path relative to test/fixtures, compiled) and waits for its first line. */
  static async start(fixture: string, args: string[], env: Record<string, string> = {}): Promise<Worker> {
    const path = fileURLToPath(new URL(`../fixtures/${fixture}`, import.meta.url))
    const worker = new Worker(spawn(process.execPath, [path, ...args], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } }))
    worker.first = await worker.#next()
    return worker
  }

  /** Sends a command and returns the `result` of its reply (throws its `error`). */
  async send<R = unknown>(command: Record<string, unknown>): Promise<R> {
    this.#child.stdin!.write(`${JSON.stringify(command)}\n`)
    const reply = (await this.#next()) as { ok: boolean; result?: R; error?: string }
    if (!reply.ok) throw new Error(`worker: ${reply.error}`)
    return reply.result as R
  }

  /** The exit code once the fixture exited (null while it runs, or the signal that killed it). */
  get exit(): number | string | null {
    return this.#child.exitCode ?? this.#child.signalCode
  }

  /** Ends stdin (the fixture then closes what it opened and exits) and waits for the exit. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return
    const exited = once(this.#child, 'exit')
    this.#child.stdin!.end()
    await exited
  }

  async #next(): Promise<unknown> {
    const { value, done } = await this.#lines.next()
    if (done) throw new Error('worker exited before answering')
    return JSON.parse(value as string)
  }
}
