-- poll.lua: one status call's coalescing step in one round trip (CacheStore.poll).
-- KEYS[1] = {tag}:c:l:<upstream> (poll lock), KEYS[2] = {tag}:c:s:<upstream> (last status).
-- ARGV: lock ttl_ms. Returns {1} when this caller took the lock (it asks upstream), else
-- {0, last status or false}.
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return {1}
end
return {0, redis.call('GET', KEYS[2])}
