-- Compare-and-extend: only the lease's owner extends it (and may change its state), so a leader whose
-- lease expired during a pause never extends the lease another instance took meanwhile.
-- KEYS[1] lease; ARGV[1] owner; ARGV[2] ttl in ms; ARGV[3] the lease's new value ('owner' or 'owner state')
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] or (value and string.sub(value, 1, #ARGV[1] + 1) == ARGV[1] .. ' ') then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
  return 1
end
return 0
