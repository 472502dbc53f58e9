import { readFileSync } from 'node:fs'

let known: string | undefined

/**
 * tollgate's version, from its package.json: two levels up from `dist/<folder>/`, three from the
 * test build's `build/src/<folder>/`.
 */
export function version(): string {
  if (known !== undefined) return known
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'tollgate' && pkg.version) return (known = pkg.version)
    } catch {
      // Not there: the other layout.
    }
  }
  return (known = 'unknown')
}
