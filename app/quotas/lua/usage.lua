-- usage.lua: one consistent read of a tenant's counters (QuotaStore.usage).
-- KEYS (one {tag}, one cluster slot): 1 epoch, 2 balance, and in the generation ARGV[1] names:
-- 3 used:<tenant>:<month>, 4 day:<tenant>:<day>, 5 in_flight (hash), 6 outstanding.
-- ARGV: epoch, tenant.
-- Returns {'EPOCH', current or ''} when the keys name another generation; else {'OK', credits_used,
-- searches_today, in_flight, outstanding, balance}, balance false when unknown.
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return {'EPOCH', epoch or ''} end
return {
  'OK',
  tonumber(redis.call('GET', KEYS[3])) or 0,
  tonumber(redis.call('GET', KEYS[4])) or 0,
  tonumber(redis.call('HGET', KEYS[5], ARGV[2])) or 0,
  tonumber(redis.call('GET', KEYS[6])) or 0,
  tonumber(redis.call('GET', KEYS[2])) or false,
}
