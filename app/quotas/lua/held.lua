-- held.lua: the search ids held in the current generation (QuotaStore.held_ids). One script so the
-- epoch read and the set read cannot straddle a rebuild.
-- KEYS (one {tag}, one cluster slot): 1 epoch, 2 balance (not read), 3 held (set) of the generation
-- ARGV[1] names.
-- Returns {'EPOCH', current or ''} when the keys name another generation; else {'OK', ids...}.
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return {'EPOCH', epoch or ''} end
local ids = redis.call('SMEMBERS', KEYS[3])
table.insert(ids, 1, 'OK')
return ids
