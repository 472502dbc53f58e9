// The benchmarks' peers are installed in bench/node_modules, apart from the project's own. The
// compiled benchmarks (build/bench) find them through this link; the compiled library (build/src)
// does not see it, so it keeps resolving the project's own dependencies (a peer's older zod, say,
// must not replace the library's).
import { rmSync, symlinkSync } from 'node:fs'

rmSync('build/bench/node_modules', { recursive: true, force: true })
symlinkSync('../../bench/node_modules', 'build/bench/node_modules', 'dir')
