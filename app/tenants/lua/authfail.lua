-- authfail.lua: count one failed authentication from a client address (AuthThrottle.failed).
-- KEYS[1] = {tag}:af:<address>; ARGV[1] = window in ms. The window starts at the first failure.
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
