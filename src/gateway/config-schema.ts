import { createHash } from 'node:crypto'
import { z } from 'zod'
import { DEFAULTS } from '../core/defaults.js'
import { durationMs, positiveDurationMs, positiveTimerMs, timerMs } from '../core/options.js'
import { ESTIMATE_PRICE } from '../llm/pricing.js'

// The gateway's config schema (tollgate.yaml), field by field with its default. Loading, ${VAR}
// substitution and the embedded default are in config.ts.

const name = z.string().regex(/^[\w.-]{1,64}$/, { message: 'letters, digits, _ . - (1 to 64)' })
const price = z.object({ input: z.number().min(0), output: z.number().min(0) }).strict()

export const upstream = z
  .object({
    name,
    /** OpenAI-compatible base URL, ending where `/chat/completions` is appended (e.g. `https://api.openai.com/v1`). */
    baseUrl: z
      .url({ message: 'an http(s) URL' })
      .refine((url) => /^https?:\/\//i.test(url), { message: 'an http(s) URL' })
      .refine((url) => !/^[^/]*\/\/[^/?#]*@/.test(url) && !url.includes('?') && !url.includes('#'), {
        message: 'a URL without credentials, query or fragment (put the key in apiKey and parameters in query)',
      }),
    apiKey: z.string().optional(),
    /** Header the key goes in: `authorization` (as `Bearer <key>`, the default) or e.g. `api-key` (Azure). */
    apiKeyHeader: z.string().default('authorization'),
    /** Query parameters added to every call (e.g. Azure's `api-version`). */
    query: z.record(z.string(), z.string()).default({}),
    /** Model names this upstream serves; `*` matches any run of characters. Default every model. */
    models: z.array(z.string().min(1)).min(1).default(['*']),
    /** Names clients may use instead of a model name: `{ fast: gpt-4o-mini }`. */
    aliases: z.record(z.string(), z.string()).default({}),
    /** Longest wait for the headers, between two pieces of the body, and for a free connection. */
    timeout: positiveTimerMs.default(120_000),
    /** Longest a whole call may take (the wait for a connection and the last byte of a stream included); then 504. Default 10 min. */
    deadline: positiveTimerMs.default(DEFAULTS.upstream.deadlineMs),
    /** Retries of a 429 or 5xx before any byte reached the client; Retry-After is honoured. */
    maxRetries: z.number().int().min(0).max(10).default(2),
    /** Connections to this upstream at most; calls beyond them wait for one (at most `timeout`). Default 256. */
    connections: z.number().int().min(1).max(65_536).default(DEFAULTS.upstream.connections),
    /**
     * Connections one tenant may hold at once, so its burst (or its abandoned calls the cache still
     * wants) cannot starve the other tenants. Default: all of them with one tenant, a quarter with several.
     */
    connectionsPerTenant: z.number().int().min(1).optional(),
  })
  .strict()

const window = z.object({ limit: z.number().int().min(1), window: positiveDurationMs }).strict()
const pair = z.object({ requests: window.optional(), tokens: window.optional() }).strict()

/**
 * Limits of a gateway key. `requests`/`tokens` count per key; `user` per end user (the request's
 * `user` field or `x-tollgate-user` header) across the tenant's keys; `model` per model across the
 * tenant; `dailyBudgetUsd` per key per UTC day. Tokens are charged up front from an estimate
 * (prompt size + max_tokens) and reconciled with the reply's usage.
 */
export const limitsSchema = pair
  .extend({
    user: pair.optional(),
    model: pair.optional(),
    /** Counted in micro-dollars: less than one is a budget of nothing. */
    dailyBudgetUsd: z.number().min(0.000001, { message: 'at least 0.000001 (budgets count millionths of a dollar)' }).optional(),
  })
  .strict()

/** TLS of a `rediss://` store: files are read at start (a missing one stops it, naming the field). */
const tlsSchema = z
  .object({
    caFile: z.string().optional(),
    certFile: z.string().optional(),
    keyFile: z.string().optional(),
    servername: z.string().optional(),
    rejectUnauthorized: z.boolean().default(true),
  })
  .strict()

/** A store as the config names it: the URL and the store options that matter in production (defaults: `createStore`'s). */
export const storeSchema = z
  .object({
    url: z.string().default('memory://'),
    keyPrefix: z.string().default(''),
    commandTimeout: positiveTimerMs.optional(),
    connectTimeout: positiveTimerMs.optional(),
    reconnectMaxDelay: positiveTimerMs.optional(),
    closeTimeout: timerMs.optional(),
    tls: tlsSchema.optional(),
  })
  .strict()

/** A pass-through route pattern: a path under `/v1/`, `*` matching any run of characters (`/v1/audio/*`). */
const passThroughPattern = z.string().regex(/^\/v1\/[\w\-./*]+$/, { message: "a path under /v1/ of letters, digits, _ - . / and * (e.g. '/v1/audio/*')" })

const gatewayKey = z
  .object({
    name,
    /** `sha256:<hex>` of the key, as `tollgate keys hash <key>` prints it. The key itself is never stored. */
    hash: z.string().regex(/^sha256:[0-9a-f]{64}$/, { message: "'sha256:' and 64 hex digits (tollgate keys hash <key>)" }),
    tenant: name,
    /** Replaces the top-level `limits` for this key. */
    limits: limitsSchema.optional(),
  })
  .strict()

export const configSchema = z
  .object({
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        /** Largest request body; larger ones get 413. */
        bodyLimit: z.number().int().min(1024).default(4 * 1024 * 1024),
        /** How long shutdown waits for in-flight requests (streams included) before cutting them. */
        shutdownTimeout: timerMs.default(10_000),
        /** Deepest nesting of a request body's JSON; deeper bodies get a 400 before any walk over them. */
        maxJsonDepth: z.number().int().min(8).max(1_000).default(64),
        /** Most JSON values (objects, arrays, strings, keys, numbers) in a request body, counted before it is parsed; more: 400 `request_too_complex`. */
        maxJsonValues: z.number().int().min(100).default(DEFAULTS.gateway.maxJsonValues),
        /**
         * Memory for recent LLM request bodies kept parsed by their exact text (per tenant), so an
         * identical body is not parsed, checked and hashed again: their text and an estimate of their
         * parsed objects; a body counted over a 32nd of it is not kept. 0 turns it off.
         */
        bodyMemoBytes: z.number().int().min(0).default(DEFAULTS.gateway.bodyMemoBytes),
        /** Most JSON values parsed from one upstream reply or one stream event; more: 502 `upstream_reply_too_large`. */
        maxUpstreamReplyValues: z.number().int().min(1_000).default(DEFAULTS.upstream.maxReplyValues),
        /** Longest a client may take to send its whole request (headers and body); then 408. Replies (streams) are not bounded by it. */
        requestTimeout: positiveTimerMs.default(30_000),
        /** Longest a client may take to send its headers; then 408. At most `requestTimeout`. */
        headersTimeout: positiveTimerMs.default(10_000),
        /**
         * Longest a connection may go without a byte received or sent; then it is closed. It bounds a
         * client that stops reading a reply (and the upstream call held for it). Above every upstream's `timeout`.
         */
        idleTimeout: positiveTimerMs.default(180_000),
        /** How long an idle keep-alive connection is kept open between requests. */
        keepAliveTimeout: positiveTimerMs.default(72_000),
        /** Client connections at once; the ones past it are closed as they arrive. */
        maxConnections: z.number().int().min(1).default(10_000),
        /** Largest upstream reply read whole or relayed as a stream; past it the client gets a 502 and nothing is cached. */
        maxUpstreamReplyBytes: z.number().int().min(1024).default(DEFAULTS.upstream.maxReplyBytes),
        /** Largest upstream error body passed on to the client; a longer one is replaced by a note saying so. */
        maxUpstreamErrorBytes: z.number().int().min(256).default(DEFAULTS.upstream.maxErrorBytes),
        /** How far a stream is read from the upstream ahead of its fastest reader before the upstream is made to wait. */
        streamReadAheadBytes: z.number().int().min(1024).default(DEFAULTS.gateway.streamReadAheadBytes),
        /** How much of a stream is kept for identical requests joining it late; past it the stream is no longer joinable. */
        joinableStreamBytes: z.number().int().min(1024).default(DEFAULTS.gateway.joinableStreamBytes),
        /** pino level of `tollgate start`'s JSON log of lifecycle and trouble (requests go to the access log). */
        logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /**
         * One JSON line per request of `tollgate start` (method, route, status, cache, tenant, key,
         * model, upstream, ms, upstreamMs, bytes), after the reply. `sampleHits: N` writes one cache
         * hit in N; every other request is always written. Lines are written together, 4 KiB at a
         * time or after `flushMs` (default 1 s; 0 writes each line at once). `false` turns it off.
         */
        // `true`/`false` is read as `{ enabled }`, so a wrong field is named by its path, not as a union's "Invalid input".
        accessLog: z
          .preprocess(
            (value) => (typeof value === 'boolean' ? { enabled: value } : value),
            z
              .object({
                enabled: z.boolean().default(true),
                sampleHits: z.number().int().min(1).max(1_000_000).default(1),
                // Node runs an interval of less than a millisecond every millisecond: below 10 ms an idle gateway writes nothing a hundred times a second.
                flushMs: durationMs
                  .refine((ms) => ms === 0 || (Number.isInteger(ms) && ms >= 10 && ms <= 60_000), { message: '0, or whole milliseconds from 10ms to 60s' })
                  .default(DEFAULTS.gateway.accessLogFlushMs),
              }, { error: (issue) => (issue.code === 'invalid_type' ? 'true, false or { enabled, sampleHits, flushMs }' : undefined) })
              .strict(),
          )
          .default({ enabled: true, sampleHits: 1, flushMs: DEFAULTS.gateway.accessLogFlushMs }),
      })
      .strict()
      .refine((server) => server.headersTimeout <= server.requestTimeout, { message: 'headersTimeout of at most requestTimeout', path: ['headersTimeout'] })
      .default({
        host: '127.0.0.1',
        port: 8080,
        bodyLimit: 4 * 1024 * 1024,
        shutdownTimeout: 10_000,
        maxJsonDepth: 64,
        maxJsonValues: DEFAULTS.gateway.maxJsonValues,
        bodyMemoBytes: DEFAULTS.gateway.bodyMemoBytes,
        maxUpstreamReplyValues: DEFAULTS.upstream.maxReplyValues,
        requestTimeout: 30_000,
        headersTimeout: 10_000,
        idleTimeout: 180_000,
        keepAliveTimeout: 72_000,
        maxConnections: 10_000,
        maxUpstreamReplyBytes: DEFAULTS.upstream.maxReplyBytes,
        maxUpstreamErrorBytes: DEFAULTS.upstream.maxErrorBytes,
        streamReadAheadBytes: DEFAULTS.gateway.streamReadAheadBytes,
        joinableStreamBytes: DEFAULTS.gateway.joinableStreamBytes,
        logLevel: 'info',
        accessLog: { enabled: true, sampleHits: 1, flushMs: DEFAULTS.gateway.accessLogFlushMs },
      }),
    store: storeSchema.optional(),
    /** `none`: no key needed (local use; logged loudly at start). `keys`: a gateway key from `keys` is required. */
    /** Default `keys` when keys are configured, else `none`; `none` with keys configured is refused. */
    auth: z.enum(['none', 'keys'], { message: "'none' or 'keys'" }).optional(),
    keys: z.array(gatewayKey).default([]),
    upstreams: z.array(upstream).min(1, { message: 'at least one upstream' }),
    cache: z
      .object({
        enabled: z.boolean().default(true),
        ttl: positiveDurationMs.default(3_600_000),
        grace: durationMs.default(0),
        /** Namespaces a request may name in `x-tollgate-cache-namespace` to share entries across tenants. */
        sharedNamespaces: z.array(name).default([]),
        l1MaxBytes: z.number().int().min(1024).default(64 * 1024 * 1024),
        /**
         * Who shares entries: `tenant` (every key and end user of a tenant), `user` (each end user of a
         * tenant apart; requests without a user share one space), `key` (each gateway key apart).
         */
        scope: z.enum(['tenant', 'user', 'key'], { message: "'tenant', 'user' or 'key'" }).default('tenant'),
        /** Send `x-tollgate-cache`, `Age` and the saved/cost headers to clients; false hides whether a reply was a hit. */
        exposeHeaders: z.boolean().default(true),
      })
      .strict()
      .default({ enabled: true, ttl: 3_600_000, grace: 0, sharedNamespaces: [], l1MaxBytes: 64 * 1024 * 1024, scope: 'tenant', exposeHeaders: true }),
    /** USD per 1M tokens per model; merged over the built-in table. */
    pricing: z.record(z.string(), price).default({}),
    /** What a model without a price costs: `estimate` (charged at `unpricedPrice`), `allow` (free), `deny` (refused with 400). */
    unpricedModel: z.enum(['deny', 'allow', 'estimate'], { message: "'deny', 'allow' or 'estimate'" }).default('estimate'),
    unpricedPrice: price.default(ESTIMATE_PRICE),
    /**
     * Limits of every key without its own (and of anonymous callers with `auth: none`). Default none.
     * `store`: where limit counters live, apart from the cache (default: the gateway's store on Redis,
     * a non-evicting memory store of its own on the embedded default).
     */
    limits: limitsSchema
      .extend({
        store: storeSchema.optional(),
        /** Gateway instances sharing the limits: while the store is down, each one allows `limit / instances`. Default 1. */
        instances: z.number().int().min(1).max(10_000).default(1),
      })
      .strict()
      .default({ instances: 1 }),
    /**
     * `/v1/*` paths other than the LLM routes that are forwarded to the first upstream without `{model}` (deny by default).
     * Each forwarded request counts against the key's request limits. Resource routes (`/v1/files`,
     * `/v1/batches`) reach the upstream's one account: every tenant sees every other's resources.
     */
    passThrough: z.array(passThroughPattern).max(64).default([]),
    /**
     * The admin API (`/admin/*`) and the dashboard's data, behind their own token (`Authorization:
     * Bearer <token>`, compared in constant time). Off unless `token` is set.
     */
    admin: z
      .object({
        token: z
          .string()
          .min(16, { message: 'a token of at least 16 characters (tollgate keys create makes one)' })
          // What a Bearer header can carry: a space or a non-ASCII character would lock the operator out.
          .regex(/^[\x21-\x7e]+$/, { message: 'printable ASCII without spaces (tollgate keys create makes one)' })
          .optional(),
      })
      .strict()
      .default({}),
    /** `GET /metrics` for Prometheus. Label values are capped so a flood of tenants or models cannot grow memory without bound. */
    metrics: z
      .object({
        /** Serve `/metrics`. Default true. */
        enabled: z.boolean().default(true),
        /** `/metrics` needs the admin token too (tenant and model names are visible there). Default false. */
        requireAdminToken: z.boolean().default(false),
        /** Distinct tenant label values; later ones are counted as `other`. Default 50. */
        maxTenantLabels: z.number().int().min(1).max(10_000).default(DEFAULTS.metrics.maxTenantLabels),
        /** Distinct model label values; later ones are counted as `other`. Default 50. */
        maxModelLabels: z.number().int().min(1).max(10_000).default(DEFAULTS.metrics.maxModelLabels),
        /** Per-key series (budget remaining per gateway key); off by default: one series per key. */
        keyLabels: z.boolean().default(false),
      })
      .strict()
      .default({ enabled: true, requireAdminToken: false, maxTenantLabels: DEFAULTS.metrics.maxTenantLabels, maxModelLabels: DEFAULTS.metrics.maxModelLabels, keyLabels: false }),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.auth === 'keys' && config.keys.length === 0) ctx.addIssue({ code: 'custom', path: ['keys'], message: "at least one key when auth is 'keys'" })
    // Keys and `auth: none` would be a gateway that looks protected and is not.
    if (config.auth === 'none' && config.keys.length > 0) ctx.addIssue({ code: 'custom', path: ['auth'], message: "'keys' when keys are configured (remove the keys to run without authentication)" })
    // Asked for a token with none configured, /metrics would be open while the config says it is not.
    if (config.metrics.requireAdminToken && !config.admin.token) ctx.addIssue({ code: 'custom', path: ['admin', 'token'], message: 'a token when metrics.requireAdminToken is true' })
    const upstreams = new Set<string>()
    for (const [i, upstream] of config.upstreams.entries()) {
      if (upstreams.has(upstream.name)) ctx.addIssue({ code: 'custom', path: ['upstreams', i, 'name'], message: 'a name not used by another upstream' })
      upstreams.add(upstream.name)
      if (upstream.connectionsPerTenant !== undefined && upstream.connectionsPerTenant > upstream.connections) {
        ctx.addIssue({ code: 'custom', path: ['upstreams', i, 'connectionsPerTenant'], message: 'at most connections' })
      }
      // A silent upstream (a model thinking) must time out as an upstream failure, not as an idle client.
      if (upstream.timeout >= config.server.idleTimeout) {
        ctx.addIssue({ code: 'custom', path: ['server', 'idleTimeout'], message: `more than every upstream's timeout (${upstream.name}: ${upstream.timeout} ms)` })
      }
    }
    // The admin token must be a secret of its own: a gateway key would open the admin API to its tenant.
    if (config.admin.token && config.keys.some((key) => key.hash === `sha256:${createHash('sha256').update(config.admin.token as string).digest('hex')}`)) {
      ctx.addIssue({ code: 'custom', path: ['admin', 'token'], message: 'a token that is not also a gateway key' })
    }
    const hashes = new Set<string>()
    const names = new Set<string>()
    for (const [i, key] of config.keys.entries()) {
      if (hashes.has(key.hash)) ctx.addIssue({ code: 'custom', path: ['keys', i, 'hash'], message: 'a hash not used by another key' })
      if (names.has(key.name)) ctx.addIssue({ code: 'custom', path: ['keys', i, 'name'], message: 'a name not used by another key (limits and ledgers are kept by key name)' })
      hashes.add(key.hash)
      names.add(key.name)
    }
  })
  .transform((config) => ({ ...config, auth: config.auth ?? (config.keys.length > 0 ? 'keys' : 'none') }))
