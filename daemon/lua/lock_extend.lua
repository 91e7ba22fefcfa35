-- lock_extend: push a held lock's expiry (README: Locks, compare-and-extend).
--
-- KEYS[1] lock key "ns:lock:RESOURCE"
-- ARGV[1] the holder's token
-- ARGV[2] lease in ms (> 0)
--
-- Reply: 1 when the lock's value equals the token (PEXPIRE lease); 0 when it
-- does not or the key is gone (the lock was lost: nothing changed).

local lk, token = KEYS[1], ARGV[1]
local lease = arg_uint(2)

if lease == 0 then
	error('deferd: lock lease must be positive')
end
if token ~= '' and redis.pcall('GET', lk) == token then
	redis.call('PEXPIRE', lk, istr(lease))
	return 1
end
return 0
