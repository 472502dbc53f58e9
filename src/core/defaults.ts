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
  },
  memcached: {
    /** memcached refuses keys over 250 bytes; longer ones are hashed (prefix included). */
    maxKeyBytes: 250,
  },
} as const
