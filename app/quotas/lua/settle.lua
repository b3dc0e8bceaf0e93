-- settle.lua: commit or refund one held reservation (QuotaStore.commit / QuotaStore.refund).
-- KEYS (one {tag}, one cluster slot): 1 epoch, 2 balance, and in the generation ARGV[1] names:
-- 3 in_flight_all, 4 in_flight (hash), 5 outstanding, 6 res:<search_id>, 7 held (set), and for a
-- refund 8 used:<tenant>:<month>, 9 day:<tenant>:<day> of the reservation as ARGV 4-6 describe it.
-- ARGV: epoch, search_id, 'commit' | 'refund', tenant, month, day.
-- Returns {'EPOCH', current or ''} when the keys name another generation; {'RECORD', tenant, month,
-- day} when a refund named the wrong period keys (the caller asks again with these); else {'OK', n}:
-- n = 1 when a reservation was settled, 0 (and no change) when none is held for the id, which makes
-- both idempotent. Both release the concurrency slots and the outstanding hold; a commit keeps
-- credits and the daily slot as spent and lowers the known balance, a refund gives them back.
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return {'EPOCH', epoch or ''} end
local rec = redis.call('HMGET', KEYS[6], 'tenant', 'cost', 'month', 'day')
local tenant, cost, month, day = rec[1], tonumber(rec[2]), rec[3], rec[4]
if not tenant then return {'OK', 0} end
local refund = ARGV[3] ~= 'commit'
if refund and (tenant ~= ARGV[4] or month ~= ARGV[5] or day ~= ARGV[6]) then
  return {'RECORD', tenant, month, day}
end

-- Lower a counter that still exists, never below zero: a counter for a period that has expired, or
-- that a rebuild for another period never wrote, has nothing to give back.
local function decrease(key, by)
  if redis.call('EXISTS', key) == 1 and redis.call('DECRBY', key, by) < 0 then
    redis.call('SET', key, 0, 'KEEPTTL')
  end
end

if redis.call('HINCRBY', KEYS[4], tenant, -1) <= 0 then
  redis.call('HDEL', KEYS[4], tenant)
end
decrease(KEYS[3], 1)
decrease(KEYS[5], cost)
redis.call('SREM', KEYS[7], ARGV[2])
redis.call('DEL', KEYS[6])
if refund then
  decrease(KEYS[8], cost)
  decrease(KEYS[9], 1)
elseif redis.call('EXISTS', KEYS[2]) == 1 then
  -- Not clamped: a balance driven below zero must keep refusing until set_balance refreshes it.
  redis.call('DECRBY', KEYS[2], cost)
end
return {'OK', 1}
