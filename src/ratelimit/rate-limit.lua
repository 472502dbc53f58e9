-- One rate-limit decision over one or more rules, all or nothing: a request refused by one rule
-- consumes nothing from the others. Mirrors src/ratelimit/algorithms.ts line for line (the
-- differential test holds them to identical decisions); read that file for the reasoning.
--
-- KEYS[i]   state of rule i (all keys of a decision share a Cluster hash tag)
-- ARGV[1]   time override in microseconds, '' = the server's TIME (only tests and replays set it)
-- ARGV[2]   'c' consume, 'p' peek (evaluate, write nothing), 'f' force (write whatever the outcome;
--           costs may be negative: a refund, e.g. reconciling an estimate with real usage)
-- ARGV[3 + 5(i-1) ..] per rule: algorithm (f|s|t), limit, window ms, param (buckets|burst), cost
-- Reply: { all allowed (1|0), then per rule: allowed, remaining, reset ms, retry ms (-1 = never) }
--
-- State is one string per rule: packed doubles (struct) or, for the token bucket, one number. Never
-- formatted text (string.format and pattern matching cost more in Redis' Lua than the commands
-- themselves), never a hash (one GET and one SET ... PXAT beat HMGET, HSET and PEXPIREAT). Doubles
-- hold the integers involved exactly; numbers passed to redis.call are written round-trip exact.

local now_us
if ARGV[1] ~= '' then
  now_us = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local now_ms = math.floor(now_us / 1000)
local peek = ARGV[2] == 'p'
local force = ARGV[2] == 'f'

local function fixed_window(key, limit, w, cost)
  local idx = math.floor(now_ms / w)
  local count = 0
  local raw = redis.call('GET', key)
  if raw and #raw == 16 then
    local w_idx, c = struct.unpack('dd', raw)
    if w_idx == idx then count = c end
  end
  local end_ms = (idx + 1) * w - now_ms
  local after = math.max(0, count + cost)
  local allowed = cost <= limit and after <= limit
  local retry = 0
  if cost > limit then retry = -1 elseif not allowed then retry = end_ms end
  local reset_before, reset_after = 0, 0
  if count > 0 then reset_before = end_ms end
  if after > 0 then reset_after = end_ms end
  return allowed, retry, math.max(0, limit - count), reset_before, math.max(0, limit - after), reset_after, struct.pack('dd', idx, after), (idx + 1) * w
end

local function sliding_reset(counts, k, w, n)
  for i = 0, n do
    if counts[i + 1] > 0 then return math.ceil(((k - i + 1) * w) / n + w - now_ms) end
  end
  return 0
end

-- State: n + 2 doubles packed with struct: the newest bucket's index k, then the counts of buckets
-- k, k-1, ..., k-n. One binary string reads and writes far cheaper than a hash of n + 2 fields.
local function sliding_window(key, limit, w, n, cost)
  local k = math.floor((now_ms * n) / w)
  local format = string.rep('d', n + 2)
  local counts = {}
  for i = 0, n do counts[i + 1] = 0 end
  local raw = redis.call('GET', key)
  if raw and #raw == 8 * (n + 2) then
    local state = { struct.unpack(format, raw) }
    local shift = k - state[1]
    if shift < 0 then
      shift = 0
      k = state[1]
    end
    local i = 0
    while i + shift <= n do
      counts[i + shift + 1] = state[2 + i]
      i = i + 1
    end
  end
  local sum = 0
  for i = 0, n do sum = sum + counts[i + 1] end
  local allowed = cost <= limit and sum + cost <= limit
  local retry = 0
  if cost > limit then
    retry = -1
  elseif not allowed then
    local need = sum + cost - limit
    local freed = 0
    for i = n, 0, -1 do
      freed = freed + counts[i + 1]
      if freed >= need then
        retry = math.ceil(((k - i + 1) * w) / n + w - now_ms)
        break
      end
    end
  end
  local reset_before = sliding_reset(counts, k, w, n)
  local after = {}
  for i = 1, n + 1 do after[i] = counts[i] end
  local sum_after = sum + cost
  if cost >= 0 then
    after[1] = after[1] + cost
  else
    local refund = -cost
    local i = 1
    while i <= n + 1 and refund > 0 do
      local take = math.min(after[i], refund)
      after[i] = after[i] - take
      refund = refund - take
      i = i + 1
    end
    sum_after = sum + cost + refund
  end
  local reset_after = sliding_reset(after, k, w, n)
  local new_state = struct.pack(format, k, unpack(after))
  return allowed, retry, math.max(0, limit - sum), reset_before, math.max(0, limit - sum_after), reset_after, new_state,
    math.ceil(((k + 1) * w) / n + w)
end

local function token_bucket(key, limit, w, burst, cost)
  local t = math.ceil((w * 1000) / limit)
  local tolerance = burst * t
  local stored = tonumber(redis.call('GET', key)) or now_us
  local tat = now_us
  if stored > now_us then tat = stored end
  local new_tat = tat + cost * t
  if new_tat < now_us then new_tat = now_us end
  local allow_at = new_tat - tolerance
  local allowed = cost <= burst and allow_at <= now_us
  local retry = 0
  if cost > burst then retry = -1 elseif not allowed then retry = math.ceil((allow_at - now_us) / 1000) end
  return allowed, retry,
    math.max(0, math.floor((tolerance - (tat - now_us)) / t)), math.ceil((tat - now_us) / 1000),
    math.max(0, math.floor((tolerance - (new_tat - now_us)) / t)), math.ceil((new_tat - now_us) / 1000),
    new_tat, math.max(now_ms + 1, math.ceil(new_tat / 1000))
end

local rules = {}
local all = true
for i = 1, #KEYS do
  local b = 3 + (i - 1) * 5
  local algo, limit, w, param, cost = ARGV[b], tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
  local r = { algo = algo }
  if algo == 'f' then
    r.allowed, r.retry, r.rb, r.zb, r.ra, r.za, r.state, r.expire_at = fixed_window(KEYS[i], limit, w, cost)
  elseif algo == 's' then
    r.allowed, r.retry, r.rb, r.zb, r.ra, r.za, r.state, r.expire_at = sliding_window(KEYS[i], limit, w, param, cost)
  else
    r.allowed, r.retry, r.rb, r.zb, r.ra, r.za, r.state, r.expire_at = token_bucket(KEYS[i], limit, w, param, cost)
  end
  r.cost = cost
  if not r.allowed then all = false end
  rules[i] = r
end

local commit = force or (all and not peek)
local reply = { all and 1 or 0 }
for i, r in ipairs(rules) do
  if commit and r.cost ~= 0 then
    -- Expiry in the decision's own time (the server's TIME, or the replayed time in tests).
    redis.call('SET', KEYS[i], r.state, 'PXAT', r.expire_at)
  end
  local n = #reply
  reply[n + 1] = r.allowed and 1 or 0
  if commit then
    reply[n + 2] = r.ra
    reply[n + 3] = r.za
  else
    reply[n + 2] = r.rb
    reply[n + 3] = r.zb
  end
  reply[n + 4] = r.retry
end
return reply
