// tollgate/grammy: rate limits, sessions and flood control for grammY bots. grammY is imported for its
// types only, so loading this module does not load grammY.
export { FloodControlTimeoutError } from './errors.js'
export { type FloodControlEvents, type FloodControlOptions, type FloodControlTransformer, floodControl, type PaceRule } from './flood-control.js'
export { limit, type LimitMiddleware, type LimitOptions } from './limit-updates.js'
export { PACED_METHODS } from './paced-methods.js'
export { sessionStorage, type TollgateStorageAdapter, updateSession, type UpdateSessionOptions } from './session-storage.js'
