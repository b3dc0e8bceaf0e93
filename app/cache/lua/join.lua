-- join.lua: lead the single flight for a cache key, or learn who leads it (CacheStore.join).
-- KEYS[1] = {tag}:c:f:<key>. ARGV: search_id, ttl_ms.
-- Returns the leading search id: ARGV[1] when this call became the leader.
local leader = redis.call('GET', KEYS[1])
if leader then return leader end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
