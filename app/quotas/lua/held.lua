-- held.lua: the search ids held in the current generation (QuotaStore.held_ids). One script so the
-- epoch read and the set read cannot straddle a rebuild.
-- KEYS[1] = {tag}:q:epoch; the held set is derived from the same {tag} (same cluster slot).
local epoch = redis.call('GET', KEYS[1])
if not epoch then return {} end
local tag = string.match(KEYS[1], '^{[^}]*}')
return redis.call('SMEMBERS', tag .. ':q:' .. epoch .. ':held')
