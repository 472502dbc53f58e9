export { type Clock, ManualClock, systemClock } from './core/clock.js'
export { DEFAULTS } from './core/defaults.js'
export { type Duration, parseDuration } from './core/duration.js'
export {
  CorruptEntryError,
  InvalidOptionError,
  InvalidSessionIdError,
  LoaderTimeoutError,
  ModelNotPricedError,
  RateLimitedError,
  SerializationError,
  SessionConflictError,
  StoreClosedError,
  StoreCommandError,
  StoreFullError,
  StoreTimeoutError,
  StoreUnavailableError,
  TollgateError,
  UnsupportedByStoreError,
  UpstreamError,
  ValueTooLargeError,
} from './core/errors.js'
export { TypedEmitter } from './core/events.js'
export { type CreateStoreOptions, createStore } from './stores/create-store.js'
export { createStoreFromEnv, storeOptionsFromEnv } from './stores/from-env.js'
export { hashTag, safeIdentifier } from './stores/keys.js'
export { defineScript } from './stores/script.js'
export type {
  MemoryScriptContext,
  SetOptions,
  Store,
  StoreCapabilities,
  StoreEvents,
  StoreKind,
  StoreScript,
} from './stores/types.js'
export { type ConsumeOptions, createRateLimiter, RateLimiter } from './ratelimit/rate-limiter.js'
export type { Algorithm, RateLimiterLogger, RateLimiterOptions, RuleOptions } from './ratelimit/options.js'
export type { RateLimitDecision, RateLimiterEvents, RateLimiterStats, RuleDecision } from './ratelimit/types.js'
export { Cache, createCache } from './cache/cache.js'
export type { CacheOptions } from './cache/options.js'
export type {
  CacheEvents,
  CacheGetOptions,
  CacheResult,
  CacheSetOptions,
  CacheStats,
  CacheTier,
  GetOrSetOptions,
  Loader,
  LoaderContext,
} from './cache/types.js'
export { jsonSerializer, type Serializer } from './core/serializer.js'
export {
  createSessionId,
  createSessionStore,
  type SessionEvents,
  type SessionStats,
  SessionStore,
  type SessionStoreOptions,
} from './sessions/session-store.js'
export { ConfigError, defaultConfig, type GatewayConfig, loadConfigFile, parseConfig } from './gateway/config.js'
export { hashKey } from './gateway/auth.js'
export { createGateway, Gateway, type GatewayOptions } from './gateway/server.js'
export { CallProducer, type CallProducerOptions } from './calls/producer.js'
export { CallLimits, type Charge, type LimitsSpec, type WindowSpec } from './calls/limits.js'
export { CostLedger, type CostLine } from './calls/cost-ledger.js'
export { ModelRouter, type Route } from './calls/router.js'
export { Upstream, type UpstreamSpec } from './calls/upstream.js'
export type { CachePolicy, Caller, CacheStatus, CallKind, CallOutcome, CallRequest, CallResult } from './calls/types.js'
export { DEFAULT_PRICES, ESTIMATE_PRICE, type ModelPrice, Pricing, type UnpricedModel } from './llm/pricing.js'
export { type Completion, StreamAssembler, type Usage } from './llm/stream-assembler.js'
