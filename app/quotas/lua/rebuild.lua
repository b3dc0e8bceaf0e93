-- rebuild.lua: write a complete new generation of counters from the database's snapshot, then
-- switch the epoch to it, all in one step (QuotaStore.rebuild). The balance is not touched.
-- KEYS[1] = {tag}:q:epoch; every other key is derived from the same {tag} (same cluster slot).
-- ARGV: new epoch (fresh random token), snapshot JSON {month, day, used: {tenant: n},
--       today: {tenant: n}, held: [[search_id, tenant, cost, month, day], ...]},
--       month_ttl_s, day_ttl_s, old_generation_ttl_s
-- Counters of earlier generations are never read again; they expire instead of being deleted so a
-- large rebuild stays one quick step (and the last generation can still be inspected for a while).
-- Only while there are no counters: a rebuild from an older snapshot must never replace counters
-- that already include later grants (a deliberate recount invalidates the epoch first).
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local tag = string.match(KEYS[1], '^{[^}]*}')
local gen = tag .. ':q:' .. ARGV[1] .. ':'
local snap = cjson.decode(ARGV[2])
local month_ttl, day_ttl, old_ttl = ARGV[3], ARGV[4], ARGV[5]

for tenant, n in pairs(snap.used) do
  redis.call('SET', gen .. 'used:' .. tenant .. ':' .. snap.month, n, 'EX', month_ttl)
end
for tenant, n in pairs(snap.today) do
  redis.call('SET', gen .. 'day:' .. tenant .. ':' .. snap.day, n, 'EX', day_ttl)
end
-- Held searches already count in used/today; here they take their slots and outstanding hold.
redis.call('SET', gen .. 'in_flight_all', #snap.held)
redis.call('SET', gen .. 'outstanding', 0)
for _, r in ipairs(snap.held) do
  local sid, tenant, cost = r[1], r[2], r[3]
  redis.call('HSET', gen .. 'res:' .. sid, 'tenant', tenant, 'cost', cost, 'month', r[4], 'day', r[5])
  redis.call('SADD', gen .. 'held', sid)
  redis.call('HINCRBY', gen .. 'in_flight', tenant, 1)
  redis.call('INCRBY', gen .. 'outstanding', cost)
end

local old = redis.call('GET', KEYS[1])
if old then -- used/day keys expire by their own TTL; these had none
  local prev = tag .. ':q:' .. old .. ':'
  for _, sid in ipairs(redis.call('SMEMBERS', prev .. 'held')) do
    redis.call('EXPIRE', prev .. 'res:' .. sid, old_ttl)
  end
  for _, name in ipairs({'held', 'in_flight', 'in_flight_all', 'outstanding'}) do
    redis.call('EXPIRE', prev .. name, old_ttl)
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
