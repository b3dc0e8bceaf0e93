-- put.lua: store one result entry and index it under the tenant that paid for it (CacheStore.put).
-- KEYS[1] = {tag}:c:e:<key>, KEYS[2] = {tag}:c:t:<tenant> (same {tag}, same cluster slot).
-- ARGV: value, ttl_ms, <key>.
-- The index lives as long as its longest-lived entry; members whose entry expired are harmless
-- (a purge deletes nothing for them).
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1
