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
--           an estimate with real usage). The same letter in upper case ('C', 'P', 'F') stands for
--           a cost of 1 to every rule, the common case, and no costs follow: a decision of three
--           rules is then one argument, not four, which both ends pay for.
-- Reply: per decision { all allowed (1|0), then per rule: allowed, remaining, reset ms, retry ms
--           (-1 = never) }, decision after decision, flat. A decision all of whose rules allow
--           leaves out their allowed (1) and retry (0): { 1, then per rule remaining, reset ms }.
--           Most decisions allow, and every number of a reply costs both ends.
--
-- A rule's state is packed doubles (struct) or, for the token bucket alone in its key, one number.
-- Never formatted text (string.format and pattern matching cost more in Redis' Lua than the commands
-- themselves), never a hash (one GET and one SET ... PXAT beat HMGET, HSET and PEXPIREAT). Doubles
-- hold the integers involved exactly; numbers passed to redis.call are written round-trip exact.
-- A key of several rules (a group) holds packed doubles: its own expiry (absolute ms), then its
-- rules' states side by side in rule order, read with one unpack and written with one pack: one GET
-- and one SET for all of them, which is most of a rule's cost. It expires a little past the latest
-- expiry of its rules that hold something (see `padded`); a rule whose state outlives its own expiry
-- there decides exactly as with no state.

local now_us
if ARGV[1] ~= '' then
  now_us = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local now_ms = math.floor(now_us / 1000)

-- Each algorithm decides from its rule's state, the numbers of table `v` from index `o` (v is false
-- when there is none), and writes the state it would commit into table `out` from index `p`. It
-- returns allowed, retry, remaining and reset before and after committing, that state's expiry
-- (absolute ms), and whether the expiry is the one the stored state already has. A SET with KEEPTTL
-- costs about half of one with PXAT in Redis 7, and inside one window (fixed) or one bucket
-- (sliding) the expiry does not move: it is a function of the window or bucket index kept in the
-- state, and the write that first stored that index set it.

local function fixed_window(v, o, limit, w, _, cost, out, p)
  local idx = math.floor(now_ms / w)
  local count = 0
  local same = false
  if v and v[o] == idx then
    count = v[o + 1]
    same = true
  end
  local end_ms = (idx + 1) * w - now_ms
  local after = math.max(0, count + cost)
  local allowed = cost <= limit and after <= limit
  local retry = 0
  if cost > limit then retry = -1 elseif not allowed then retry = end_ms end
  local reset_before, reset_after = 0, 0
  if count > 0 then reset_before = end_ms end
  if after > 0 then reset_after = end_ms end
  out[p], out[p + 1] = idx, after
  return allowed, retry, math.max(0, limit - count), reset_before, math.max(0, limit - after), reset_after, (idx + 1) * w, same
end

-- Time until the newest non-empty bucket leaves the window; `c` holds the counts from index `o`.
local function sliding_reset(c, o, k, w, n)
  for i = 0, n do
    if c[o + i] > 0 then return math.ceil(((k - i + 1) * w) / n + w - now_ms) end
  end
  return 0
end

-- State: n + 2 numbers, the newest bucket's index k, then the counts of buckets k, k-1, ..., k-n.
-- The counts are worked on where the new state goes (`out` from p + 1): no copy to make there.
local function sliding_window(v, o, limit, w, n, cost, out, p)
  local k = math.floor((now_ms * n) / w)
  local same = false
  local sum = 0
  local c = p + 1
  if v then
    local shift = k - v[o]
    if shift < 0 then
      shift = 0
      k = v[o]
    end
    same = shift == 0
    -- The stored buckets, moved `shift` places older; the ones that fell out of the window drop.
    for i = 0, n do
      local count = 0
      if i >= shift then count = v[o + 1 + i - shift] end
      out[c + i] = count
      sum = sum + count
    end
  else
    for i = 0, n do out[c + i] = 0 end
  end
  out[p] = k
  local allowed = cost <= limit and sum + cost <= limit
  local retry = 0
  if cost > limit then
    retry = -1
  elseif not allowed then
    local need = sum + cost - limit
    local freed = 0
    for i = n, 0, -1 do
      freed = freed + out[c + i]
      if freed >= need then
        retry = math.ceil(((k - i + 1) * w) / n + w - now_ms)
        break
      end
    end
  end
  local reset_before = sliding_reset(out, c, k, w, n)
  local sum_after = sum + cost
  local reset_after
  if cost >= 0 then
    -- The units go to the newest bucket, the only count that changes.
    local newest = out[c] + cost
    if newest > 0 then reset_after = math.ceil(((k + 1) * w) / n + w - now_ms) else reset_after = reset_before end
    out[c] = newest
  else
    -- A refund comes out of the newest buckets first: that is where the estimate was charged.
    local refund = -cost
    local i = 0
    while i <= n and refund > 0 do
      local take = math.min(out[c + i], refund)
      out[c + i] = out[c + i] - take
      refund = refund - take
      i = i + 1
    end
    sum_after = sum + cost + refund
    reset_after = sliding_reset(out, c, k, w, n)
  end
  return allowed, retry, math.max(0, limit - sum), reset_before, math.max(0, limit - sum_after), reset_after,
    math.ceil(((k + 1) * w) / n + w), same
end

-- The expiry follows the arrival time, which every decision moves: never the same.
local function token_bucket(v, o, limit, w, burst, cost, out, p)
  local t = math.ceil((w * 1000) / limit)
  local tolerance = burst * t
  local stored = now_us
  if v then stored = v[o] end
  local tat = now_us
  if stored > now_us then tat = stored end
  local new_tat = tat + cost * t
  if new_tat < now_us then new_tat = now_us end
  local allow_at = new_tat - tolerance
  local allowed = cost <= burst and allow_at <= now_us
  local retry = 0
  if cost > burst then retry = -1 elseif not allowed then retry = math.ceil((allow_at - now_us) / 1000) end
  out[p] = new_tat
  return allowed, retry,
    math.max(0, math.floor((tolerance - (tat - now_us)) / t)), math.ceil((tat - now_us) / 1000),
    math.max(0, math.floor((tolerance - (new_tat - now_us)) / t)), math.ceil((new_tat - now_us) / 1000),
    math.max(now_ms + 1, math.ceil(new_tat / 1000)), false
end

local ALGORITHMS = { f = fixed_window, s = sliding_window, t = token_bucket }
local R = tonumber(ARGV[2])
local G = 0
local algos, codes, limits, windows, params, groups = {}, {}, {}, {}, {}, {}
-- Per rule: how many numbers its state has, and where they start among its key's numbers.
local widths, offsets = {}, {}
-- Per group: its rules, its count of numbers, and (for a key of several rules) the struct format.
local members, numbers, formats = {}, {}, {}
for i = 1, R do
  local b = 3 + (i - 1) * 5
  local code, g = ARGV[b], tonumber(ARGV[b + 4])
  algos[i], codes[i], limits[i], windows[i], params[i], groups[i] = ALGORITHMS[code], code, tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), g
  if g > G then G = g end
  local width = 1
  if code == 'f' then width = 2 elseif code == 's' then width = params[i] + 2 end
  widths[i] = width
  members[g] = members[g] or {}
  members[g][#members[g] + 1] = i
end
for g = 1, G do
  -- A key of several rules starts with its own expiry; a key of one rule is that rule's numbers.
  local count = 0
  if #members[g] > 1 then count = 1 end
  for _, i in ipairs(members[g]) do
    offsets[i] = count + 1
    count = count + widths[i]
  end
  numbers[g] = count
  formats[g] = string.rep('d', count)
end

-- A rule alone in its key stores its numbers packed, the token bucket its one number as text (the
-- layouts keys have always had, see docs/keys.md). Per rule, a reader gives them as a table (false
-- for a missing or foreign value) and a packer makes the value back; made once per call, each for
-- its algorithm, because a branch on the algorithm per decision showed in the single-rule rows.
local readers, packers = {}, {}
for i = 1, R do
  local view, width, format = {}, widths[i], formats[groups[i]]
  if codes[i] == 't' then
    readers[i] = function(raw)
      local tat = raw and tonumber(raw)
      if not tat then return false end
      view[1] = tat
      return view
    end
    packers[i] = function(out) return out[1] end
  elseif codes[i] == 'f' then
    readers[i] = function(raw)
      if not raw or #raw ~= 16 then return false end
      view[1], view[2] = struct.unpack('dd', raw)
      return view
    end
    packers[i] = function(out) return struct.pack('dd', out[1], out[2]) end
  else
    readers[i] = function(raw)
      if not raw or #raw ~= 8 * width then return false end
      return { struct.unpack(format, raw) }
    end
    packers[i] = function(out) return struct.pack(format, unpack(out, 1, width)) end
  end
end

-- struct.unpack and unpack() put one value per number on Lua's C stack, which holds at most 8000
-- (LUAI_MAXCSTACK): a key of more numbers (up to 16 sliding windows of 1000 buckets share one) is
-- read and written in chunks. The common key is far below and takes one call either way.
local CHUNK = 4000

local function unpack_chunked(raw, count)
  local t, done = {}, 0
  while done < count do
    local c = math.min(CHUNK, count - done)
    local part = { struct.unpack(string.rep('d', c), raw, 8 * done + 1) }
    for x = 1, c do t[done + x] = part[x] end
    done = done + c
  end
  return t
end

local function pack_chunked(out, count)
  local pieces, done = {}, 0
  while done < count do
    local c = math.min(CHUNK, count - done)
    pieces[#pieces + 1] = struct.pack(string.rep('d', c), unpack(out, done + 1, done + c))
    done = done + c
  end
  return table.concat(pieces)
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

local UNIT_COSTS = { C = 'c', P = 'p', F = 'f' }
local reply = {}
local n = 0
local a = 3 + 5 * R
local k = 0
if R == 1 then
  -- One rule, the common case: no per-decision tables.
  local decide, read, pack, limit, w, param = algos[1], readers[1], packers[1], limits[1], windows[1], params[1]
  local out = {}
  while a <= #ARGV do
    local mode, cost = ARGV[a], 1
    if UNIT_COSTS[mode] then
      mode = UNIT_COSTS[mode]
      a = a + 1
    else
      cost = tonumber(ARGV[a + 1])
      a = a + 2
    end
    k = k + 1
    local key = KEYS[k]
    local allowed, retry, rb, zb, ra, za, expire_at, same = decide(read(states[key]), 1, limit, w, param, cost, out, 1)
    local commit = mode == 'f' or (allowed and mode == 'c')
    if commit and cost ~= 0 then write(key, pack(out), expire_at, same) end
    if allowed then
      reply[n + 1] = 1
      n = n + 1
    else
      reply[n + 1] = 0
      reply[n + 2] = 0
      n = n + 2
    end
    if commit then
      reply[n + 1] = ra
      reply[n + 2] = za
    else
      reply[n + 1] = rb
      reply[n + 2] = zb
    end
    n = n + 2
    if not allowed then
      reply[n + 1] = retry
      n = n + 1
    end
  end
  return reply
end

-- A key of several rules lives a little past the latest expiry its rules need: a later write whose
-- need still fits keeps it (KEEPTTL) instead of moving it (PXAT), and a token bucket's need moves on
-- every decision. The key outlives its state by at most a second or an eighth of its life, harmless:
-- a state past its own expiry decides exactly as no state.
local function padded(expire_at)
  return expire_at + math.max(1000, math.ceil((expire_at - now_ms) / 8))
end

-- Several rules: per-rule outcomes in columns, per-group numbers read and to write, all reused by
-- every decision of the call.
local costs, allowed, retry, rb, zb, ra, za, expires, same = {}, {}, {}, {}, {}, {}, {}, {}, {}
local views, outs = {}, {}
for g = 1, G do outs[g] = {} end
while a <= #ARGV do
  local mode = ARGV[a]
  if UNIT_COSTS[mode] then
    mode = UNIT_COSTS[mode]
    for i = 1, R do costs[i] = 1 end
    a = a + 1
  else
    for i = 1, R do costs[i] = tonumber(ARGV[a + i]) end
    a = a + 1 + R
  end
  for g = 1, G do
    local raw = states[KEYS[k + g]]
    if #members[g] == 1 then
      views[g] = readers[members[g][1]](raw)
    elseif raw and #raw == 8 * numbers[g] then
      if numbers[g] <= CHUNK then views[g] = { struct.unpack(formats[g], raw) } else views[g] = unpack_chunked(raw, numbers[g]) end
    else
      views[g] = false
    end
  end
  local all = true
  for i = 1, R do
    local g = groups[i]
    allowed[i], retry[i], rb[i], zb[i], ra[i], za[i], expires[i], same[i] = algos[i](views[g], offsets[i], limits[i], windows[i], params[i], costs[i], outs[g], offsets[i])
    if not allowed[i] then all = false end
  end
  local commit = mode == 'f' or (all and mode == 'c')
  if commit then
    for g = 1, G do
      local rules = members[g]
      local out = outs[g]
      if #rules == 1 then
        local i = rules[1]
        if costs[i] ~= 0 then write(KEYS[k + g], packers[i](out), expires[i], same[i]) end
      else
        local view = views[g]
        local dirty = false
        local expire_at = 0
        for _, i in ipairs(rules) do
          if costs[i] ~= 0 then
            dirty = true
          elseif view then
            -- A rule that takes nothing keeps its numbers; its own expiry, computed all the same, is
            -- never earlier than the one those numbers need.
            for x = offsets[i], offsets[i] + widths[i] - 1 do out[x] = view[x] end
          end
          -- A rule counts towards the key's expiry only while it holds something (a reset after
          -- > 0): one that holds nothing decides as with no state, and must not keep the key for its
          -- whole window (a daily rule charged 0 next to a 1 s token bucket would hold every identity
          -- for a day). A rule that takes something always counts, so the key always gets an expiry.
          if (costs[i] ~= 0 or za[i] > 0) and expires[i] > expire_at then expire_at = expires[i] end
        end
        if dirty then
          local kept = view and view[1] or 0
          if expire_at <= kept then
            out[1] = kept
          else
            out[1] = padded(expire_at)
          end
          local value
          if numbers[g] <= CHUNK then value = struct.pack(formats[g], unpack(out, 1, numbers[g])) else value = pack_chunked(out, numbers[g]) end
          write(KEYS[k + g], value, out[1], expire_at <= kept)
        end
      end
    end
  end
  reply[n + 1] = all and 1 or 0
  n = n + 1
  for i = 1, R do
    if not all then
      reply[n + 1] = allowed[i] and 1 or 0
      n = n + 1
    end
    if commit then
      reply[n + 1] = ra[i]
      reply[n + 2] = za[i]
    else
      reply[n + 1] = rb[i]
      reply[n + 2] = zb[i]
    end
    n = n + 2
    if not all then
      reply[n + 1] = retry[i]
      n = n + 1
    end
  end
  k = k + G
end
return reply
