-- lock_acquire: take a resource lock and a fencing token (README: Locks).
--
-- KEYS[1] lock key "ns:lock:RESOURCE"
-- KEYS[2] fencing counter "ns:fence:RESOURCE"
-- ARGV[1] token: the caller's random value (128 bits as hex)
-- ARGV[2] lease in ms (> 0): the lock's PX
--
-- Reply: {1, fence} when the lock was free: SET KEYS[1] token NX PX lease,
-- and fence = INCR KEYS[2], in one step, so a holder always has a fence
-- larger than every earlier holder's. {1, fence} also when the lock already
-- holds this very token (the reply to an earlier call was lost): the lease is
-- renewed and the current counter returned, no new INCR. {0, pttl} when
-- another token holds it: nothing changed; pttl is its remaining lease in ms
-- (-1 if it has none), a hint for how long to wait.

local lk, fk = KEYS[1], KEYS[2]
local token = ARGV[1]
local lease = arg_uint(2)

if token == nil or token == '' then
	error('deferd: lock token must not be empty')
end
if lease == 0 then
	error('deferd: lock lease must be positive')
end
if redis.call('SET', lk, token, 'NX', 'PX', istr(lease)) then
	return {1, redis.call('INCR', fk)}
end
if redis.pcall('GET', lk) == token then
	redis.call('PEXPIRE', lk, istr(lease))
	return {1, uint(redis.pcall('GET', fk)) or redis.call('INCR', fk)}
end
return {0, redis.call('PTTL', lk)}
