-- rebuild.lua: write a complete new generation of counters from the database's snapshot, then
-- switch the epoch to it, all in one step (QuotaStore.rebuild). The balance is not touched.
-- KEYS (one {tag}, one cluster slot): 1 epoch, then in the new generation: 2 in_flight_all,
-- 3 outstanding, 4 in_flight (hash), 5 held (set), then one used:<tenant>:<month> key per entry of
-- snapshot.used, one day:<tenant>:<day> key per entry of snapshot.today, one res:<search_id> key per
-- entry of snapshot.held, in that order.
-- ARGV: new epoch (fresh random token), snapshot JSON {used: [[tenant, n], ...],
--       today: [[tenant, n], ...], held: [[search_id, tenant, cost, month, day], ...]},
--       month_ttl_s, day_ttl_s
-- Only while there are no counters: a rebuild from an older snapshot must never replace counters
-- that already include later grants (a deliberate recount invalidates the epoch first).
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local snap = cjson.decode(ARGV[2])
local month_ttl, day_ttl = ARGV[3], ARGV[4]
local k = 5

for _, entry in ipairs(snap.used) do
  k = k + 1
  redis.call('SET', KEYS[k], entry[2], 'EX', month_ttl)
end
for _, entry in ipairs(snap.today) do
  k = k + 1
  redis.call('SET', KEYS[k], entry[2], 'EX', day_ttl)
end
-- Held searches already count in used/today; here they take their slots and outstanding hold.
redis.call('SET', KEYS[2], #snap.held)
redis.call('SET', KEYS[3], 0)
for _, r in ipairs(snap.held) do
  k = k + 1
  local sid, tenant, cost = r[1], r[2], r[3]
  redis.call('HSET', KEYS[k], 'tenant', tenant, 'cost', cost, 'month', r[4], 'day', r[5])
  redis.call('EXPIRE', KEYS[k], month_ttl)
  redis.call('SADD', KEYS[5], sid)
  redis.call('HINCRBY', KEYS[4], tenant, 1)
  redis.call('INCRBY', KEYS[3], cost)
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
