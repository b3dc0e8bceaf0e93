-- invalidate.lua: drop the counters, so nothing is granted until the next rebuild
-- (QuotaStore.invalidate). The balance is left to set_balance.
-- KEYS (one {tag}, one cluster slot): 1 epoch, 2 balance (not touched), then in the generation ARGV[1] names:
-- 3 in_flight_all, 4 outstanding, 5 in_flight, 6 held.
-- ARGV: epoch, old_generation_ttl_s.
-- Returns {'EPOCH', current or ''} when the keys name another generation; else {'OK', 1}.
-- The dropped generation is never read again; its keys expire rather than being deleted, so this
-- stays one quick step (its used/day/res keys carry their own TTLs).
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return {'EPOCH', epoch or ''} end
for i = 3, 6 do redis.call('EXPIRE', KEYS[i], ARGV[2]) end
redis.call('DEL', KEYS[1])
return {'OK', 1}
