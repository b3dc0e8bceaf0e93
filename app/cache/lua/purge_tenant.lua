-- purge_tenant.lua: delete every entry a tenant's searches produced, and its index (CacheStore.purge_tenant).
-- KEYS[1] = {tag}:c:t:<tenant>. ARGV: the entry key prefix ({tag}:c:e:).
-- Returns how many entries existed and were deleted.
local deleted = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  deleted = deleted + redis.call('DEL', ARGV[1] .. key)
end
redis.call('DEL', KEYS[1])
return deleted
