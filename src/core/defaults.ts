/**
 * Every default value in one place. Each one is the value used when the option is left out, and the
 * TSDoc of the option points back here.
 */
export const DEFAULTS = {
  store: {
    /** Store used when no URL is given: in-process memory, nothing to start. */
    url: 'memory://',
    /** Prefix applied to every key and channel; empty by default. */
    keyPrefix: '',
    /**
     * Per-command timeout. 100 ms is far above a healthy loopback or LAN round trip (<1 ms) yet short
     * enough that a paused or overloaded Redis costs a request 100 ms, not seconds.
     */
    commandTimeoutMs: 100,
    /** Time allowed for a TCP (and TLS) connection to be established. */
    connectTimeoutMs: 2_000,
    /** First reconnect delay; doubled per attempt up to the maximum, with jitter. */
    reconnectMinDelayMs: 50,
    /** Reconnect delay cap: a restarted Redis is picked up again within about this long. */
    reconnectMaxDelayMs: 2_000,
    /** Largest value a store accepts (memcached's own default item limit is also 1 MiB). */
    maxValueBytes: 1024 * 1024,
    /**
     * Keys longer than this (in UTF-8 bytes, prefix excluded) are stored under a SHA-256 of the key,
     * so a 10 kB identifier costs 64 bytes of key memory and never hits a backend key limit.
     */
    maxKeyBytes: 512,
    /** How long close() waits for in-flight commands before it drops the connections. */
    closeTimeoutMs: 1_000,
  },
  memory: {
    /** Memory store budget: entries are evicted least-recently-used beyond it. */
    maxBytes: 64 * 1024 * 1024,
  },
  rateLimit: {
    /** Used when a rule names no algorithm: no boundary bursts, and cheap. */
    algorithm: 'sliding-window',
    /**
     * Sliding-window buckets: a request keeps counting for at most window + window/buckets.
     * 10 keeps that slack at 10% for 12 numbers of state per key.
     */
    buckets: 10,
    /** What happens when the store fails: an in-memory limiter takes over. */
    onStoreError: 'fallback',
    /** Instances sharing the limit; the fallback limiter allows limit / instances per instance. */
    instances: 1,
    /** Keys remembered as blocked until their reset, to spare a flood the store round trips. */
    blockCacheMaxKeys: 10_000,
    /** Consecutive store failures that open the circuit (stop calling the store). */
    failureThreshold: 3,
    /** While the circuit is open, one probe call goes to the store this often. */
    probeIntervalMs: 1_000,
    /** Memory budget of the fallback limiter's private store. */
    fallbackMaxBytes: 16 * 1024 * 1024,
    /**
     * Most rule states one script call to a remote store decides (a decision weighs one per rule, a
     * sliding window one per 12 buckets). Decisions asked for in the same tick go out together (one
     * TIME, one call, one round trip); 128 keeps one call's server time near 0.3 ms, short enough
     * that other clients of the server never wait long behind it.
     */
    batchSize: 128,
  },
  cache: {
    /** Namespace of a cache created without one; keys are `c:{namespace}:{generation}:{key}`. */
    namespace: 'default',
    /** How long an entry is fresh. Short on purpose: a forgotten TTL should cost hits, not correctness. */
    ttlMs: 5 * 60_000,
    /** How long past its TTL an entry may still be served stale (while refreshing, or if the loader fails). */
    graceMs: 0,
    /** L1 (in-process) budget for values, keys and bookkeeping. */
    l1MaxBytes: 32 * 1024 * 1024,
    /** Largest serialized entry; larger ones throw `E_VALUE_TOO_LARGE` on `set`, are not cached by `getOrSet`. */
    maxEntryBytes: 1024 * 1024,
    /** With compression on, payloads from this size are deflated: below it the header costs more than it saves. */
    compressionThresholdBytes: 1024,
    /**
     * Cross-instance single-flight lease. The leader renews it every third of this while its loader
     * runs, so a leader that dies frees its followers within this long, and a live one keeps it.
     */
    leaseTtlMs: 10_000,
    /**
     * Longest a follower waits for another instance's loader before it loads itself. Long, because a
     * live leader renews its lease and a dead one frees it within `leaseTtlMs`: this only bounds a
     * leader that is alive but stuck. The gateway raises it to its longest upstream deadline.
     */
    leaseWaitMs: 60_000,
    /** First and last delay between a follower's looks at the store for the leader's result. */
    leasePollMinMs: 5,
    leasePollMaxMs: 100,
    /**
     * How old a namespace generation or tag time read from L2 may get before it is read again, when no
     * invalidation bus tells this instance about changes (memcached, or the bus is disconnected).
     * This is the staleness bound of clearNamespace/invalidateTags without a bus.
     */
    markerRefreshMs: 1_000,
    /** The same, with a healthy bus: only a safety net against a lost message. */
    markerRefreshWithBusMs: 30_000,
    /**
     * First and longest wait between attempts to subscribe the invalidation bus after a failure
     * (doubling, with jitter): a cache created while Redis is down joins the bus once it is back.
     */
    busRetryMinMs: 100,
    busRetryMaxMs: 5_000,
    /** Tag times, and namespace generations, remembered per process (LRU); a forgotten one is read from L2 again. */
    tagTimesMaxKeys: 10_000,
    /**
     * Longest ttl + grace an entry may have, and the TTL of generation and tag markers in L2: a marker
     * only matters to entries created before it, and none of those outlive this.
     */
    maxTtlMs: 30 * 24 * 3_600_000,
    /** Consecutive L2 failures that open the circuit, and how often it is probed while open. */
    failureThreshold: 3,
    probeIntervalMs: 1_000,
  },
  session: {
    /** Sessions expire after this long without being written (or read, with `sliding`). */
    ttlMs: 24 * 3_600_000,
    /** Reads extend the TTL: a session active every day never expires. */
    sliding: true,
    /** Keys are `{prefix}:{id}`. */
    prefix: 'sess',
    /** Session values are small state, not documents; a cap stops one user from filling the store. */
    maxValueBytes: 64 * 1024,
    /** Compare-and-set attempts of one `update` before `E_SESSION_CONFLICT`. */
    maxRetries: 20,
  },
  upstream: {
    /** Connections to one upstream's origin; calls past them wait for one. */
    connections: 256,
    /**
     * Largest reply read whole or relayed as a stream: far above any completion, and what a batch of
     * 2048 embeddings of 1536 dimensions takes as JSON is about this. A reply past it is dropped, not
     * buffered: a 2 GB reply once took the whole process down.
     */
    maxReplyBytes: 32 * 1024 * 1024,
    /** Largest error body passed on: provider errors are a few hundred bytes; a huge one is not an error message. */
    maxErrorBytes: 64 * 1024,
    /**
     * Longest a whole upstream call may take. Long enough for the longest reasoning completion a
     * provider serves; it bounds what `timeout` (the gaps) cannot: an upstream dripping a byte at a time.
     */
    deadlineMs: 10 * 60_000,
    /**
     * Most JSON values (objects, arrays, strings, keys, numbers) in one reply, or in one event of a
     * stream, counted before parsing: parsing is what costs, many times the bytes in memory. An
     * embeddings reply of 1,000 inputs of 1,536 dimensions (~30 MB) holds 1.5 million; a reply of
     * 31 MiB of keys held 5 million and took 5.8 s of CPU.
     */
    maxReplyValues: 2_000_000,
  },
  openai: {
    /** How long `tollgate/openai` serves an answer from the cache: the gateway's `cache.ttl`. */
    ttlMs: 60 * 60_000,
    /** Deepest request body it hashes, as the gateway's `server.maxJsonDepth`. */
    maxJsonDepth: 64,
    /** Longest silence of a provider (headers, or between two pieces of a reply): the gateway's upstream `timeout`. */
    timeoutMs: 120_000,
  },
  gateway: {
    /**
     * The access log's lines are held until this much is buffered (or `server.accessLog.flushMs` has
     * passed): one write per request was about a sixth of a quiet gateway's CPU per miss, most of it the
     * system call. 4 KiB is about fifteen lines, what a crash can lose.
     */
    accessLogBatchBytes: 4096,
    /** Longest an access line waits in the buffer on a quiet gateway (ms). */
    accessLogFlushMs: 1000,
    /**
     * How far a stream is read ahead of its fastest reader: enough to keep a reader that keeps up
     * from waiting on the upstream, little enough that one that stops reading holds little.
     */
    streamReadAheadBytes: 256 * 1024,
    /**
     * How much of a stream is kept for callers joining it late: every ordinary completion (a 4,096-token
     * answer streams ~600 KB of events), not the 32 MiB a reply may reach, times every stream in flight.
     */
    joinableStreamBytes: 4 * 1024 * 1024,
    /**
     * Most JSON values (objects, arrays, strings, keys, numbers) in a request body, counted before it
     * is parsed. An embeddings request at OpenAI's 300,000-token cap, sent as token arrays, holds
     * 300,000; a conversation of 10,000 messages with tools, a few tens of thousands. A 4 MiB body of
     * `[{},{},…]` or of numbers holds a million or two, and cost seconds of event loop at 8 at once.
     */
    maxJsonValues: 500_000,
    /**
     * Memory for recent LLM request bodies kept parsed (their text and their parsed objects), so a
     * body sent again byte for byte (most cache hits) is not parsed, checked and hashed again: a few
     * thousand typical chat bodies.
     */
    bodyMemoBytes: 8 * 1024 * 1024,
    /** Tenant and model pairs the cost ledger keeps apart; later pairs are summed under `other`. */
    maxLedgerLines: 10_000,
  },
  grammy: {
    /** Incoming updates each key may send: grammY's own ratelimiter plugin allows 1 per second. */
    updatesLimit: 1,
    updatesWindowMs: 1_000,
    /** Keys whose refusal was already reported (`onLimitExceeded`), remembered per process (oldest forgotten first). */
    reportedKeys: 10_000,
    /** Telegram's published limits for outgoing messages: about 30 per second per bot, ... */
    perBot: { limit: 30, windowMs: 1_000 },
    /** ... one per second in one chat, ... */
    perChat: { limit: 1, windowMs: 1_000 },
    /** ... and 20 per minute in one group (or channel). */
    perGroup: { limit: 20, windowMs: 60_000 },
    /**
     * Longest an outgoing call waits for its turn (pacing and flood waits together): the longest
     * default window, so the 21st message to a group in a minute is sent, not refused.
     */
    maxWaitMs: 60_000,
    /** Times one call is sent again after Telegram answered 429 (grammY's auto-retry plugin also retries 3 times). */
    maxRetries: 3,
    /** Flood waits remembered in process memory too (they still hold while the store is down). */
    localFloodWaits: 10_000,
    /**
     * Chats whose session was read as absent and not yet written back, remembered by `sessionStorage`
     * per process (oldest forgotten first), so the session `initial()` made is stored only if the
     * chat still has none.
     */
    absentSessionReads: 10_000,
  },
  aiSdk: {
    /** Whose quota a call spends when `limits.key` is not given: one quota shared by every call. */
    limitKey: 'default',
    /** Rules of the limiter that count tokens when `limits.tokenRules` is not given; the others count calls. */
    tokenRules: ['tokens'],
    /**
     * Deepest value a cached result or stream part may hold (provider metadata, tool results). A model
     * answer nests a few levels; a deeper one is served but not cached rather than walked further.
     */
    maxValueDepth: 100,
  },
  http: {
    /** Namespace of the Fastify and Express limiters: their keys are `rl:http:{client key}:{rule}`. */
    namespace: 'http',
    /** The Fastify plugin's limit when none is given: @fastify/rate-limit's default, 1,000 a minute. */
    fastifyLimit: 1_000,
    /** The Express middleware's limit when none is given: express-rate-limit's default, 5 a minute. */
    expressLimit: 5,
    /** Name of a single rule given without one: the `"requests"` of `RateLimit: "requests";r=9;t=60`, as the gateway names it. */
    ruleName: 'requests',
    /** Window of a limit given without one. */
    windowMs: 60_000,
    /**
     * IPv6 clients are counted per /64: the prefix one host (a home line, a VM) usually holds, and
     * whose 2^64 addresses it can cycle through to dodge a per-address limit.
     */
    ipv6Subnet: 64,
    /** The IETF draft of the RateLimit fields sent: draft-8, the form the gateway sends. */
    standardHeaders: 'draft-8',
    /** Response-cache status header (`HIT`, `MISS`, `BYPASS`). */
    cacheStatusHeader: 'x-cache',
    /** Session cookie name. */
    sessionCookie: 'sid',
  },
  memcached: {
    /** memcached refuses keys over 250 bytes; longer ones are hashed (prefix included). */
    maxKeyBytes: 250,
  },
  metrics: {
    /**
     * Distinct tenant (and model) label values per metric family before later ones collapse to
     * `other`: each value multiplies every labelled series, and a label per caller is how an exporter
     * leaks memory (LiteLLM had to drop labels for exactly this).
     */
    maxTenantLabels: 50,
    maxModelLabels: 50,
    /** Window of the quantiles `/admin/stats` reports (latency, overhead): recent, not since start. */
    quantileWindowSeconds: 60,
    /** How many tenants and models `/admin/stats` ranks by spend and savings. */
    topLines: 10,
  },
} as const
