-- usage.lua: one consistent read of a tenant's counters (QuotaStore.usage).
-- KEYS[1] = {tag}:q:epoch; every other key is derived from the same {tag} (same cluster slot).
-- ARGV: tenant, month, day.
-- Returns {credits_used, searches_today, in_flight, outstanding, balance}; balance nil when unknown,
-- counters zero when the store has none (no epoch).
local tag = string.match(KEYS[1], '^{[^}]*}')
local balance = tonumber(redis.call('GET', tag .. ':q:balance')) or false
local epoch = redis.call('GET', KEYS[1])
if not epoch then return {0, 0, 0, 0, balance} end
local gen = tag .. ':q:' .. epoch .. ':'
local tenant = ARGV[1]
return {
  tonumber(redis.call('GET', gen .. 'used:' .. tenant .. ':' .. ARGV[2])) or 0,
  tonumber(redis.call('GET', gen .. 'day:' .. tenant .. ':' .. ARGV[3])) or 0,
  tonumber(redis.call('HGET', gen .. 'in_flight', tenant)) or 0,
  tonumber(redis.call('GET', gen .. 'outstanding')) or 0,
  balance,
}
