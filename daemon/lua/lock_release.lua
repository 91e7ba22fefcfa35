-- lock_release: give a lock back (README: Locks, compare-and-delete).
--
-- KEYS[1] lock key "ns:lock:RESOURCE"
-- ARGV[1] the holder's token
--
-- Reply: 1 when the lock's value equals the token (DEL); 0 when it does not
-- or the key is gone: a lock held by someone else keeps its value and TTL.

local lk, token = KEYS[1], ARGV[1]

if token ~= '' and redis.pcall('GET', lk) == token then
	redis.call('DEL', lk)
	return 1
end
return 0
