/**
 * Preloaded into a CLI child (`node --import <this file>`): its stderr says it is a terminal, so the
 * demo draws its progress bars, escapes and all, into the test's pipe, where they can be read.
 */
Object.defineProperty(process.stderr, 'isTTY', { value: true })
