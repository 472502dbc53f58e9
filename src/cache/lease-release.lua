-- Compare-and-delete: a leader releases its own lease only, never one another instance holds now.
-- KEYS[1] lease; ARGV[1] owner
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] or (value and string.sub(value, 1, #ARGV[1] + 1) == ARGV[1] .. ' ') then
  return redis.call('DEL', KEYS[1])
end
return 0
