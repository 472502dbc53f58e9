-- Stamps a tag's invalidation with the server's clock, so instances never compare two hosts' clocks.
-- KEYS[1] tag marker; ARGV[1] ttl in ms. Returns the stamp: TIME in ms, plus half a millisecond that
-- puts it after every entry stamped in the same millisecond before it.
local t = redis.call('TIME')
local at = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + 0.5
redis.call('SET', KEYS[1], tostring(at), 'PX', ARGV[1])
return tostring(at)
