import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { hashKey } from '../gateway/auth.js'
import { CliError } from './cli-error.js'

export const KEYS_HELP = `Usage: tollgate keys <create | hash>

  keys create    print a new random gateway key and its sha256 form (the key is shown once:
                 hand it to its user; put only the hash under keys: in the config)
  keys hash      read a key from stdin and print its sha256 form, for the keys: section
                 (echo -n "$KEY" | tollgate keys hash). A key is never a command-line
                 argument: arguments end up in shell history and in every process listing.

Options:
  -h, --help     show this help
`

/** Longest key read from stdin: a key is a line of text, not a file. */
const MAX_KEY_BYTES = 4096

/** `tollgate keys ...`; returns the exit code. */
export async function keys(args: string[], stdin: NodeJS.ReadableStream, out: (text: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true })
  const [sub, ...extra] = positionals
  if (values.help) {
    out(KEYS_HELP)
    return 0
  }
  if (sub === 'create' && extra.length === 0) {
    // 32 random bytes, base64url: 256 bits, no characters a header or YAML would need quoted.
    const key = `tg-${randomBytes(32).toString('base64url')}`
    out(`key:  ${key}\nhash: ${hashKey(key)}\n`)
    return 0
  }
  if (sub === 'hash') {
    if (extra.length > 0) throw new CliError('keys hash reads the key from stdin, never from an argument (it would stay in shell history): echo -n "$KEY" | tollgate keys hash', 2)
    const key = (await readAll(stdin)).replace(/\r?\n$/, '')
    if (key === '') throw new CliError('keys hash: no key on stdin (echo -n "$KEY" | tollgate keys hash)', 2)
    out(`${hashKey(key)}\n`)
    return 0
  }
  throw new CliError(`${sub === undefined ? 'keys: expected create or hash' : `unknown keys command "${positionals.join(' ')}"`} (tollgate keys --help)`, 2)
}

async function readAll(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
    size += buffer.byteLength
    if (size > MAX_KEY_BYTES) throw new CliError(`keys hash: more than ${MAX_KEY_BYTES} bytes on stdin, which is no key (echo -n "$KEY" | tollgate keys hash)`, 2)
    chunks.push(buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}
