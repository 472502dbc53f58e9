-- Compare-and-set of one session: write ARGV[2] only if the session's current token is ARGV[1]
-- ('' = the session must not exist). A value is "<token>\n<json>"; the token changes on every write,
-- so any write between an update's read and its write makes the update retry.
-- KEYS[1] session key; ARGV[1] expected token; ARGV[2] new value; ARGV[3] TTL in ms.
local current = redis.call('GET', KEYS[1])
local token = ''
if current then
  local newline = string.find(current, '\n', 1, true)
  token = newline and string.sub(current, 1, newline - 1) or ''
end
if token ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
