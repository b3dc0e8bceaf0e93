-- lock.lua: take or renew a named lease (QuotaStore.try_lock).
-- KEYS[1] = {tag}:lock:<name>. ARGV: owner, ttl_ms.
-- Returns 1 when `owner` holds the lease afterwards (taken now, or renewed), 0 when another does.
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
