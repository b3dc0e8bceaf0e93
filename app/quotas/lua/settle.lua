-- settle.lua: commit or refund one held reservation (QuotaStore.commit / QuotaStore.refund).
-- KEYS[1] = {tag}:q:epoch; every other key is derived from the same {tag} (same cluster slot).
-- ARGV: search_id, 'commit' | 'refund'.
-- Returns 1 when a reservation was settled, 0 (and no change) when none is held for the id, which
-- makes both idempotent. Both release the concurrency slots and the outstanding hold; a commit keeps
-- credits and the daily slot as spent and lowers the known balance, a refund gives them back.
local epoch = redis.call('GET', KEYS[1])
if not epoch then return 0 end
local tag = string.match(KEYS[1], '^{[^}]*}')
local gen = tag .. ':q:' .. epoch .. ':'
local rec_key = gen .. 'res:' .. ARGV[1]
local rec = redis.call('HMGET', rec_key, 'tenant', 'cost', 'month', 'day')
local tenant, cost, month, day = rec[1], tonumber(rec[2]), rec[3], rec[4]
if not tenant then return 0 end

-- Lower a counter that still exists, never below zero: a counter for a period that has expired, or
-- that a rebuild for another period never wrote, has nothing to give back.
local function decrease(key, by)
  if redis.call('EXISTS', key) == 1 and redis.call('DECRBY', key, by) < 0 then
    redis.call('SET', key, 0, 'KEEPTTL')
  end
end

if redis.call('HINCRBY', gen .. 'in_flight', tenant, -1) <= 0 then
  redis.call('HDEL', gen .. 'in_flight', tenant)
end
decrease(gen .. 'in_flight_all', 1)
decrease(gen .. 'outstanding', cost)
redis.call('SREM', gen .. 'held', ARGV[1])
redis.call('DEL', rec_key)
if ARGV[2] == 'commit' then
  -- Not clamped: a balance driven below zero must keep refusing until set_balance refreshes it.
  if redis.call('EXISTS', tag .. ':q:balance') == 1 then redis.call('DECRBY', tag .. ':q:balance', cost) end
else
  decrease(gen .. 'used:' .. tenant .. ':' .. month, cost)
  decrease(gen .. 'day:' .. tenant .. ':' .. day, 1)
end
return 1
