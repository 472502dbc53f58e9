-- Rate-limit decisions over one or more rules each, all or nothing: a request refused by one rule
-- consumes nothing from the others. Mirrors src/ratelimit/algorithms.ts and decide.ts line for line
-- (the differential test holds them to identical decisions); read those for the reasoning.
--
-- One call carries a batch of decisions of one limiter (the same rules), decided in order at one
-- server time: a later decision sees what an earlier one on the same key wrote, exactly as if they
-- had come one call each, but TIME and the call itself are paid once per batch, not per decision.
--
-- KEYS      G keys per decision (its groups' states), decision after decision; on Cluster every key
--           of a call shares one hash slot, or one node (see decision-batcher.ts)
-- ARGV[1]   time override in microseconds, '' = the server's TIME (only tests and replays set it)
-- ARGV[2]   R, the number of rules
-- ARGV[3 + 5(i-1) ..] per rule: algorithm (f|s|t), limit, window ms, param (buckets|burst), group:
--           the index (from 1) of the key among the decision's keys that holds the rule's state
-- then per decision: mode, then R costs. Mode: 'c' consume, 'p' peek (evaluate, write nothing),
--           'f' force (write whatever the outcome; costs may be negative: a refund, e.g. reconciling
--           an estimate with real usage)
-- Reply: per decision { all allowed (1|0), then per rule: allowed, remaining, reset ms, retry ms
--           (-1 = never) }, decision after decision, flat
--
-- A rule's state is packed doubles (struct) or, for the token bucket alone in its key, one number.
-- Never formatted text (string.format and pattern matching cost more in Redis' Lua than the commands
-- themselves), never a hash (one GET and one SET ... PXAT beat HMGET, HSET and PEXPIREAT). Doubles
-- hold the integers involved exactly; numbers passed to redis.call are written round-trip exact.
-- A key of several rules (a group) holds their packed states side by side, in rule order: one GET
-- and one SET for all of them, which is most of a rule's cost. Its expiry is the latest of its
-- rules' that hold something; a rule whose state outlives its own expiry there decides exactly as
-- with no state.

local now_us
if ARGV[1] ~= '' then
  now_us = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local now_ms = math.floor(now_us / 1000)

-- Each algorithm decides from its rule's raw state (the GET reply, false when missing) and returns:
-- allowed, retry, remaining and reset before and after committing, the new state, its expiry
-- (absolute ms), and whether that expiry is the one the stored state already has. A SET with
-- KEEPTTL costs about half of one with PXAT in Redis 7, and inside one window (fixed) or one bucket
-- (sliding) the expiry does not move: it is a function of the window or bucket index kept in the
-- state, and the write that first stored that index set it.

local function fixed_window(raw, limit, w, _, cost)
  local idx = math.floor(now_ms / w)
  local count = 0
  local same = false
  if raw and #raw == 16 then
    local w_idx, c = struct.unpack('dd', raw)
    if w_idx == idx then
      count = c
      same = true
    end
  end
  local end_ms = (idx + 1) * w - now_ms
  local after = math.max(0, count + cost)
  local allowed = cost <= limit and after <= limit
  local retry = 0
  if cost > limit then retry = -1 elseif not allowed then retry = end_ms end
  local reset_before, reset_after = 0, 0
  if count > 0 then reset_before = end_ms end
  if after > 0 then reset_after = end_ms end
  return allowed, retry, math.max(0, limit - count), reset_before, math.max(0, limit - after), reset_after, struct.pack('dd', idx, after), (idx + 1) * w, same
end

local function sliding_reset(counts, k, w, n)
  for i = 0, n do
    if counts[i + 1] > 0 then return math.ceil(((k - i + 1) * w) / n + w - now_ms) end
  end
  return 0
end

-- Reused by every sliding-window decision of the call: tables are the costly allocation in Lua.
local formats, counts, after = {}, {}, {}

-- State: n + 2 doubles packed with struct: the newest bucket's index k, then the counts of buckets
-- k, k-1, ..., k-n. One binary string reads and writes far cheaper than a hash of n + 2 fields.
local function sliding_window(raw, limit, w, n, cost)
  local k = math.floor((now_ms * n) / w)
  local format = formats[n]
  if not format then
    format = string.rep('d', n + 2)
    formats[n] = format
  end
  local same = false
  local sum = 0
  if raw and #raw == 8 * (n + 2) then
    local state = { struct.unpack(format, raw) }
    local shift = k - state[1]
    if shift < 0 then
      shift = 0
      k = state[1]
    end
    same = shift == 0
    -- The stored buckets, moved `shift` places older; the ones that fell out of the window drop.
    for i = 0, n do
      local c = 0
      if i >= shift then c = state[2 + i - shift] end
      counts[i + 1] = c
      sum = sum + c
    end
  else
    for i = 0, n do counts[i + 1] = 0 end
  end
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
  local sum_after = sum + cost
  local reset_after, new_state
  if cost >= 0 then
    -- The units go to the newest bucket, the only count that changes: no copy of the others.
    local newest = counts[1] + cost
    if newest > 0 then reset_after = math.ceil(((k + 1) * w) / n + w - now_ms) else reset_after = reset_before end
    new_state = struct.pack(format, k, newest, unpack(counts, 2, n + 1))
  else
    for i = 1, n + 1 do after[i] = counts[i] end
    local refund = -cost
    local i = 1
    while i <= n + 1 and refund > 0 do
      local take = math.min(after[i], refund)
      after[i] = after[i] - take
      refund = refund - take
      i = i + 1
    end
    sum_after = sum + cost + refund
    reset_after = sliding_reset(after, k, w, n)
    new_state = struct.pack(format, k, unpack(after, 1, n + 1))
  end
  return allowed, retry, math.max(0, limit - sum), reset_before, math.max(0, limit - sum_after), reset_after, new_state,
    math.ceil(((k + 1) * w) / n + w), same
end

-- The expiry follows the arrival time, which every decision moves: always written.
local function token_bucket(raw, limit, w, burst, cost)
  local t = math.ceil((w * 1000) / limit)
  local tolerance = burst * t
  local stored = tonumber(raw) or now_us
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
    new_tat, math.max(now_ms + 1, math.ceil(new_tat / 1000)), false
end

local ALGORITHMS = { f = fixed_window, s = sliding_window, t = token_bucket }
local R = tonumber(ARGV[2])
local G = 0
local algos, codes, limits, windows, params, groups, offsets, sizes = {}, {}, {}, {}, {}, {}, {}, {}
-- Per group: its rules, and the byte length of their states side by side.
local members, group_size = {}, {}
for i = 1, R do
  local b = 3 + (i - 1) * 5
  local code, g = ARGV[b], tonumber(ARGV[b + 4])
  algos[i], codes[i], limits[i], windows[i], params[i], groups[i] = ALGORITHMS[code], code, tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), g
  if g > G then G = g end
  local size = 8
  if code == 'f' then size = 16 elseif code == 's' then size = 8 * (params[i] + 2) end
  members[g] = members[g] or {}
  members[g][#members[g] + 1] = i
  sizes[i] = size
  offsets[i] = (group_size[g] or 0) + 1
  group_size[g] = offsets[i] + size - 1
end

-- Every state is read before anything is written: on a Cluster node a key that is not (or no
-- longer) local fails the call here, having changed nothing, so the caller can send the same
-- decisions again slot by slot. The decisions then read from this table, which each write updates,
-- so a key decided twice in one call sees the first decision's write.
local states = {}
if G == 1 then
  for i = 1, #KEYS do
    local key = KEYS[i]
    if states[key] == nil then states[key] = redis.call('GET', key) end
  end
else
  local group_keys = {}
  for b = 0, #KEYS - G, G do
    for g = 1, G do group_keys[g] = KEYS[b + g] end
    local raws = redis.call('MGET', unpack(group_keys, 1, G))
    for g = 1, G do
      if states[group_keys[g]] == nil then states[group_keys[g]] = raws[g] end
    end
  end
end

local function write(key, state, expire_at, same)
  states[key] = state
  -- Expiry in the decision's own time (the server's TIME, or the replayed time in tests).
  if same then redis.call('SET', key, state, 'KEEPTTL') else redis.call('SET', key, state, 'PXAT', expire_at) end
end

local reply = {}
local n = 0
local a = 3 + 5 * R
local k = 0
if R == 1 then
  -- One rule, the common case: no per-decision tables.
  local decide, limit, w, param = algos[1], limits[1], windows[1], params[1]
  while a <= #ARGV do
    local mode, cost = ARGV[a], tonumber(ARGV[a + 1])
    k = k + 1
    local allowed, retry, rb, zb, ra, za, state, expire_at, same = decide(states[KEYS[k]], limit, w, param, cost)
    local commit = mode == 'f' or (allowed and mode == 'c')
    if commit and cost ~= 0 then write(KEYS[k], state, expire_at, same) end
    local bit = allowed and 1 or 0
    reply[n + 1] = bit
    reply[n + 2] = bit
    if commit then
      reply[n + 3] = ra
      reply[n + 4] = za
    else
      reply[n + 3] = rb
      reply[n + 4] = zb
    end
    reply[n + 5] = retry
    n = n + 5
    a = a + 2
  end
  return reply
end

-- Rule i's state in a decision whose keys follow index k: a key of one rule is that rule's state;
-- in a key of several, all of them are there or none is.
local function rule_state(i, k)
  local g = groups[i]
  local raw = states[KEYS[k + g]]
  if #members[g] == 1 then return raw end
  if not raw or #raw ~= group_size[g] then return false end
  if codes[i] == 't' then return (struct.unpack('d', raw, offsets[i])) end
  return string.sub(raw, offsets[i], offsets[i] + sizes[i] - 1)
end

-- Several rules: per-rule outcomes in columns reused by every decision of the call.
local costs, olds, allowed, retry, rb, zb, ra, za, new_states, expires, same = {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}
local pieces = {}
while a <= #ARGV do
  local mode = ARGV[a]
  local all = true
  for i = 1, R do
    local cost = tonumber(ARGV[a + i])
    costs[i] = cost
    olds[i] = rule_state(i, k)
    allowed[i], retry[i], rb[i], zb[i], ra[i], za[i], new_states[i], expires[i], same[i] = algos[i](olds[i], limits[i], windows[i], params[i], cost)
    if not allowed[i] then all = false end
  end
  local commit = mode == 'f' or (all and mode == 'c')
  if commit then
    for g = 1, G do
      local rules = members[g]
      if #rules == 1 then
        local i = rules[1]
        if costs[i] ~= 0 then write(KEYS[k + g], new_states[i], expires[i], same[i]) end
      else
        local dirty = false
        for j = 1, #rules do
          if costs[rules[j]] ~= 0 then dirty = true end
        end
        if dirty then
          -- A rule that takes nothing keeps its bytes; its own expiry, computed all the same, is
          -- never earlier than the one those bytes need, so the latest of the rules' covers them all.
          -- It counts only while those bytes hold something (a reset after > 0): a rule that holds
          -- nothing decides as with no state, and must not keep the key for its whole window (a
          -- daily rule charged 0 next to a 1 s token bucket would hold every identity for a day).
          -- A rule that takes something always counts, so the key always gets an expiry.
          local expire_at = 0
          for j = 1, #rules do
            local i = rules[j]
            local piece = new_states[i]
            if costs[i] == 0 and olds[i] then piece = olds[i] end
            if codes[i] == 't' then piece = struct.pack('d', piece) end
            pieces[j] = piece
            if (costs[i] ~= 0 or za[i] > 0) and expires[i] > expire_at then expire_at = expires[i] end
          end
          write(KEYS[k + g], table.concat(pieces, '', 1, #rules), expire_at, false)
        end
      end
    end
  end
  reply[n + 1] = all and 1 or 0
  n = n + 1
  for i = 1, R do
    reply[n + 1] = allowed[i] and 1 or 0
    if commit then
      reply[n + 2] = ra[i]
      reply[n + 3] = za[i]
    else
      reply[n + 2] = rb[i]
      reply[n + 3] = zb[i]
    end
    reply[n + 4] = retry[i]
    n = n + 4
  end
  k = k + G
  a = a + 1 + R
end
return reply
