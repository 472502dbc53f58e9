-- Takes a single-flight lease unless someone holds it, and reads the server's clock in the same step.
-- KEYS[1] lease; ARGV[1] owner; ARGV[2] ttl in ms
-- Returns {1, '', now} when taken, {0, holder's value, now} when held; now in ms from TIME, so every
-- instance's loader is stamped with one clock (see Markers).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, '', now}
end
return {0, redis.call('GET', KEYS[1]) or '', now}
