-- rate.lua: count one request against the sliding 60 s windows (QuotaStore.hit_rate).
-- KEYS[1] = {tag}:rl:t:<tenant>, KEYS[2] = {tag}:rl:k:<key_id>: the tenant's and the key's windows
-- (ZSETs of ms timestamps), under one {tag}, so one cluster slot.
-- ARGV: now_ms, tenant_rpm, key_rpm, unique member, window_ms   ("" = no limit)
-- A request is counted in every active window or in none; a refused one is not counted.
-- Returns {} when nothing limits, else {allowed 0|1, scope, limit, remaining, reset_ms}: on refusal
-- the window that frees last decides; when allowed, the one with the least room left.
local now, window, member = tonumber(ARGV[1]), tonumber(ARGV[5]), ARGV[4]
local windows = {}
if tonumber(ARGV[2]) then windows[#windows + 1] = {KEYS[1], tonumber(ARGV[2]), 'tenant'} end
if tonumber(ARGV[3]) then windows[#windows + 1] = {KEYS[2], tonumber(ARGV[3]), 'key'} end
if #windows == 0 then return {} end

-- ms until entry `index` (0 = oldest) leaves the window; a whole window when there is no such entry
local function leaves_in(key, index)
  local entry = redis.call('ZRANGE', key, index, index, 'WITHSCORES')
  if #entry == 0 then return window end
  return tonumber(entry[2]) + window - now
end

local refusal
for _, w in ipairs(windows) do
  redis.call('ZREMRANGEBYSCORE', w[1], '-inf', now - window) -- at or before now - 60 s: gone
  w[4] = redis.call('ZCARD', w[1])
  if w[4] >= w[2] then -- room again once the entry `limit` places from the newest leaves
    local reset = leaves_in(w[1], w[4] - w[2])
    if not refusal or refusal[5] < reset then refusal = {0, w[3], w[2], 0, reset} end
  end
end
if refusal then return refusal end

local best
for _, w in ipairs(windows) do
  redis.call('ZADD', w[1], now, member)
  redis.call('PEXPIRE', w[1], window + 1000)
  if not best or w[2] - w[4] - 1 < best[4] then best = {1, w[3], w[2], w[2] - w[4] - 1, 0, w[1]} end
end
return {1, best[2], best[3], best[4], leaves_in(best[6], 0)}
