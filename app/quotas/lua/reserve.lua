-- reserve.lua: check and take everything a new search needs, or nothing (QuotaStore.reserve).
-- KEYS[1] = {tag}:q:epoch. Every other key is derived from the same {tag}, so all of them hash to
-- KEYS[1]'s cluster slot by construction (the global budget ties them together anyway).
-- ARGV: search_id, tenant, cost, month, day, credits_per_month, searches_per_day,
--       max_concurrent, global_max_concurrent, month_ttl_s, day_ttl_s   ("" = unlimited)
-- Returns {code, scope, global_in_flight, in_flight, today, used, outstanding, balance}: the
-- counters after taking (or as they stand when refused); code 'OK' when allowed; balance nil when
-- unknown. The check order mirrors first_failure() in memory.py.
local epoch = redis.call('GET', KEYS[1])
if not epoch then return {'NEEDS_REBUILD', 'tenant'} end
local tag = string.match(KEYS[1], '^{[^}]*}')
local gen = tag .. ':q:' .. epoch .. ':'
local sid, tenant, cost, month, day = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local credit_cap, day_cap = tonumber(ARGV[6]), tonumber(ARGV[7])
local tenant_cap, global_cap = tonumber(ARGV[8]), tonumber(ARGV[9])
local used_key = gen .. 'used:' .. tenant .. ':' .. month
local day_key = gen .. 'day:' .. tenant .. ':' .. day

local res_key = gen .. 'res:' .. sid
local g = tonumber(redis.call('GET', gen .. 'in_flight_all')) or 0
local t = tonumber(redis.call('HGET', gen .. 'in_flight', tenant)) or 0
local today = tonumber(redis.call('GET', day_key)) or 0
local used = tonumber(redis.call('GET', used_key)) or 0
local outstanding = tonumber(redis.call('GET', gen .. 'outstanding')) or 0
local balance = tonumber(redis.call('GET', tag .. ':q:balance'))

local function reply(code, scope)
  return {code, scope, g, t, today, used, outstanding, balance or false}
end

-- Already held for this search: allowed again, nothing taken twice.
if redis.call('EXISTS', res_key) == 1 then return reply('OK', 'tenant') end
if g >= global_cap then return reply('CONCURRENCY_LIMIT', 'global') end
if tenant_cap and t >= tenant_cap then return reply('CONCURRENCY_LIMIT', 'tenant') end
if day_cap and today >= day_cap then return reply('DAILY_LIMIT', 'tenant') end
if cost > 0 then -- demo searches cost nothing, so neither credit check applies
  if credit_cap and used + cost > credit_cap then return reply('QUOTA_EXCEEDED', 'tenant') end
  if not balance then return reply('NEEDS_BALANCE', 'global') end
  if balance - outstanding < cost then return reply('NO_CREDITS', 'global') end
  used = redis.call('INCRBY', used_key, cost)
  redis.call('EXPIRE', used_key, ARGV[10])
end
today = redis.call('INCR', day_key)
redis.call('EXPIRE', day_key, ARGV[11])
t = redis.call('HINCRBY', gen .. 'in_flight', tenant, 1)
g = redis.call('INCR', gen .. 'in_flight_all')
outstanding = redis.call('INCRBY', gen .. 'outstanding', cost)
redis.call('HSET', gen .. 'res:' .. sid, 'tenant', tenant, 'cost', cost, 'month', month, 'day', day)
redis.call('SADD', gen .. 'held', sid)
return reply('OK', 'tenant')
