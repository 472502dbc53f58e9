/**
 * Splits a text/event-stream into the `data:` payloads of its events. Fed bytes as they arrive (a
 * chunk may end mid-line or mid-character), it calls `onData` once per complete event.
 */
export class SseParser {
  #buffer = ''
  #data: string[] = []
  readonly #decoder = new TextDecoder()

  constructor(private readonly onData: (data: string) => void) {}

  push(chunk: Uint8Array): void {
    this.#buffer += this.#decoder.decode(chunk, { stream: true })
    let newline = this.#buffer.indexOf('\n')
    while (newline !== -1) {
      const line = this.#buffer.slice(0, newline).replace(/\r$/, '')
      this.#buffer = this.#buffer.slice(newline + 1)
      this.#line(line)
      newline = this.#buffer.indexOf('\n')
    }
  }

  #line(line: string): void {
    if (line === '') {
      if (this.#data.length > 0) this.onData(this.#data.join('\n'))
      this.#data = []
      return
    }
    if (line.startsWith('data:')) this.#data.push(line.slice(line[5] === ' ' ? 6 : 5))
  }
}
