-- The server's clock in ms, to learn its offset from this host's (see StoreClock).
local t = redis.call('TIME')
return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
