-- Atomic counter with an expiry set only at creation: INCRBY and PEXPIRE in one script, so a crash
-- between them can never leave a counter that lives forever, and traffic never extends the window.
-- KEYS[1] counter; ARGV[1] increment; ARGV[2] ttl in ms ('' for none)
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if ARGV[2] ~= '' and redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
