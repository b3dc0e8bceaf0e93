-- leave.lua: end a single flight, only if this search still leads it (CacheStore.leave).
-- KEYS[1] = {tag}:c:f:<key>. ARGV: search_id. Returns 1 when the flight ended.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
