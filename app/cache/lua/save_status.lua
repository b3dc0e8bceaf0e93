-- save_status.lua: share upstream's latest status and the poll window it was saved in
-- (CacheStore.save_status). KEYS[1] = {tag}:c:s:<upstream>, KEYS[2] = {tag}:c:w:<upstream>.
-- ARGV: the status, ttl_ms, the window (the lock holder's token).
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
return 1
