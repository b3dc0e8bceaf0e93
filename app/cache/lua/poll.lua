-- poll.lua: one status call's coalescing step in one round trip (CacheStore.poll).
-- KEYS[1] = {tag}:c:l:<upstream> (poll lock; its value names the window), KEYS[2] = {tag}:c:s:<upstream>
-- (last status), KEYS[3] = {tag}:c:w:<upstream> (the window that status was saved in).
-- ARGV: lock ttl_ms, this caller's window token. Returns {1} when this caller took the lock (it asks
-- upstream), else {0, last status or false, fresh_ms}: fresh_ms is the lock's time left when the
-- status was saved in the lock's own window (unchanged until the lock expires), else 0.
if redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[1]) then
  return {1}
end
local status = redis.call('GET', KEYS[2])
if status and redis.call('GET', KEYS[3]) == redis.call('GET', KEYS[1]) then
  return {0, status, math.max(1, redis.call('PTTL', KEYS[1]))}
end
return {0, status, 0}
