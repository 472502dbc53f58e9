import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))

export interface LogLine {
  level: number
  msg: string
  at: number
}

/**
 * `tollgate start --config <file> --port 0` in its own process: an instance as an operator runs it.
 * Its log lines are kept (`lines`), so a test can count what it logged.
 */
export class CliGateway {
  private constructor(
    /** Every JSON log line it wrote so far, with `at`: when this process read it. */
    readonly lines: LogLine[],
    readonly child: ChildProcess,
    readonly url: string,
    private readonly dir: string,
  ) {}

  static async start(config: Record<string, unknown>, env: Record<string, string> = {}): Promise<CliGateway> {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-cli-'))
    const file = join(dir, 'tollgate.yaml')
    writeFileSync(file, stringify(config))
    const child = spawn(process.execPath, [CLI, 'start', '--config', file, '--port', '0'], {
      cwd: dir,
      env: { ...process.env, REDIS_URL: '', TOLLGATE_STORE_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const lines: LogLine[] = []
    const reader = createInterface({ input: child.stdout! })
    const url = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`tollgate start exited with ${code} before listening`)))
      reader.on('line', (line) => {
        let entry: LogLine
        try {
          entry = { ...(JSON.parse(line) as { level: number; msg: string }), at: Date.now() }
        } catch {
          return
        }
        lines.push(entry)
        const match = /listening on (http:\/\/\S+)/.exec(entry.msg)
        if (match) resolve(match[1] as string)
      })
    })
    child.removeAllListeners('exit')
    return new CliGateway(lines, child, url, dir)
  }

  /** Still running (it did not crash). */
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** SIGTERM, and the exit code it ended with. */
  async stop(): Promise<number | null> {
    try {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode
      const exited = once(this.child, 'exit')
      this.child.kill('SIGTERM')
      const [code] = (await exited) as [number | null]
      return code
    } finally {
      rmSync(this.dir, { recursive: true, force: true })
    }
  }
}
