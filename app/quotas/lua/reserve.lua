-- reserve.lua: check and take everything a new search needs, or nothing (QuotaStore.reserve).
-- KEYS (all under one {tag}, so one cluster slot): 1 epoch, 2 balance, and in the generation ARGV[1]
-- names: 3 in_flight_all, 4 in_flight (hash), 5 outstanding, 6 used:<tenant>:<month>,
-- 7 day:<tenant>:<day>, 8 res:<search_id>, 9 held (set).
-- ARGV: epoch, search_id, tenant, cost, month, day, credits_per_month, searches_per_day,
--       max_concurrent, global_max_concurrent, month_ttl_s, day_ttl_s   ("" = unlimited)
-- Returns {'EPOCH', current epoch or ''} when the keys were named for another generation; else
-- {code, scope, global_in_flight, in_flight, today, used, outstanding, balance}: the counters after
-- taking (or as they stand when refused); code 'OK' when allowed; balance false when unknown. The
-- check order mirrors first_failure() in memory.py.
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return {'EPOCH', epoch or ''} end
local tenant, cost = ARGV[3], tonumber(ARGV[4])
local credit_cap, day_cap = tonumber(ARGV[7]), tonumber(ARGV[8])
local tenant_cap, global_cap = tonumber(ARGV[9]), tonumber(ARGV[10])

local g = tonumber(redis.call('GET', KEYS[3])) or 0
local t = tonumber(redis.call('HGET', KEYS[4], tenant)) or 0
local outstanding = tonumber(redis.call('GET', KEYS[5])) or 0
local used = tonumber(redis.call('GET', KEYS[6])) or 0
local today = tonumber(redis.call('GET', KEYS[7])) or 0
local balance = tonumber(redis.call('GET', KEYS[2]))

local function reply(code, scope)
  return {code, scope, g, t, today, used, outstanding, balance or false}
end

-- Already held for this search: allowed again, nothing taken twice.
if redis.call('EXISTS', KEYS[8]) == 1 then return reply('OK', 'tenant') end
if g >= global_cap then return reply('CONCURRENCY_LIMIT', 'global') end
if tenant_cap and t >= tenant_cap then return reply('CONCURRENCY_LIMIT', 'tenant') end
if day_cap and today >= day_cap then return reply('DAILY_LIMIT', 'tenant') end
if cost > 0 then -- demo searches cost nothing, so neither credit check applies
  if credit_cap and used + cost > credit_cap then return reply('QUOTA_EXCEEDED', 'tenant') end
  if not balance then return reply('NEEDS_BALANCE', 'global') end
  if balance - outstanding < cost then return reply('NO_CREDITS', 'global') end
  used = redis.call('INCRBY', KEYS[6], cost)
  redis.call('EXPIRE', KEYS[6], ARGV[11])
end
today = redis.call('INCR', KEYS[7])
redis.call('EXPIRE', KEYS[7], ARGV[12])
t = redis.call('HINCRBY', KEYS[4], tenant, 1)
g = redis.call('INCR', KEYS[3])
outstanding = redis.call('INCRBY', KEYS[5], cost)
-- A record outlives any search; the TTL only bounds what a dropped generation leaves behind.
redis.call('HSET', KEYS[8], 'tenant', tenant, 'cost', cost, 'month', ARGV[5], 'day', ARGV[6])
redis.call('EXPIRE', KEYS[8], ARGV[11])
redis.call('SADD', KEYS[9], ARGV[2])
return reply('OK', 'tenant')
