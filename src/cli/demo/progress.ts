import { MultiBar, Presets, type SingleBar } from 'cli-progress'

/** Progress of the demo's passes: one bar each on a terminal, one plain line per finished pass elsewhere. */
export interface Progress {
  /** One more request of `pass` answered. */
  advance(pass: string): void
  /** `pass` is over (its last request answered). */
  finish(pass: string, seconds: number): void
  /** Removes the bars and shows the cursor again; the next output starts on a clean line. Once: later calls do nothing. */
  stop(): void
}

/**
 * Bars on `terminal` when it is a TTY (animation is for people watching); otherwise nothing moves and
 * each finished pass is one `log` line, so CI logs and test output stay readable.
 */
export function createProgress(passes: ReadonlyArray<{ name: string; total: number }>, terminal: NodeJS.WriteStream, log: (line: string) => void): Progress {
  const width = Math.max(...passes.map((pass) => pass.name.length))
  if (!terminal.isTTY) {
    return {
      advance: () => {},
      finish: (pass, seconds) => log(`${pass.padEnd(width)}  done in ${seconds.toFixed(1)} s`),
      stop: () => {},
    }
  }
  const multi = new MultiBar({ stream: terminal, format: '{pass} {bar} {value}/{total} {note}', barsize: 30, hideCursor: true, clearOnComplete: false, autopadding: true }, Presets.shades_classic)
  const bars = new Map<string, SingleBar>(passes.map((pass) => [pass.name, multi.create(pass.total, 0, { pass: pass.name.padEnd(width), note: '' })]))
  let running = true
  const stop = () => {
    if (!running) return
    running = false
    process.off('exit', stop)
    multi.stop()
  }
  // The bars hide the cursor: a process.exit() while they run (EPIPE on stdout, a bug) must not leave
  // the user's terminal without one. Writes to a terminal are synchronous, so this lands before exit.
  process.once('exit', stop)
  return {
    advance: (pass) => bars.get(pass)?.increment(),
    finish: (pass, seconds) => bars.get(pass)?.update({ note: `${seconds.toFixed(1)} s` }),
    stop,
  }
}
