-- purge_tenant.lua: delete entries a tenant's searches produced, and drop them from its index
-- (CacheStore.purge_tenant).
-- KEYS (one {tag}, one cluster slot): 1 {tag}:c:t:<tenant>, the index; 2.. the entries {tag}:c:e:<key>
-- the caller read from it. ARGV: the <key> of each entry, in the same order.
-- Returns how many entries existed and were deleted. An entry indexed after the caller read the
-- index stays indexed, so the caller's next round finds it.
local deleted = 0
for i, key in ipairs(ARGV) do
  deleted = deleted + redis.call('DEL', KEYS[i + 1])
  redis.call('SREM', KEYS[1], key)
end
return deleted
