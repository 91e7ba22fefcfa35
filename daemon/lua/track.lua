-- track: record when keys that match an expiration rule expire, in the
-- watch zset (docs/architecture.md: ns:{exp}:watch, member "DB:KEY", score
-- = expiry time in ms). Runs in the connection's database, which must be
-- DB.
--
-- KEYS[1] the watch zset
-- ARGV[1] database number (decimal), the member prefix
-- ARGV[2..] keys to (re)track: the application's keys, only read. They are
--         not declared in KEYS because Redis's ACL wants write access to
--         every declared key of EVALSHA (config/redis-acl.conf grants
--         read only); the connection's one database makes that safe.
--
-- For each key: its PEXPIRETIME (Redis 7), or on older Redis PTTL + now;
-- with a TTL the member is ZADDed with that score, without one (or when
-- the key is gone) it is removed.
-- Reply: {now_ms, earliest score in the watch zset or -1, tracked}

local watch, db = KEYS[1], ARGV[1]
local now = now_ms()
local tracked = 0

-- Expiry time of k in ms since the epoch, -1 without a TTL, -2 if absent.
local function expiry(k)
	local t = redis.pcall('PEXPIRETIME', k)
	if type(t) == 'number' then
		return t
	end
	t = redis.call('PTTL', k)
	if t < 0 then
		return t
	end
	return now + t
end

for i = 2, #ARGV do
	local member = db .. ':' .. ARGV[i]
	local t = expiry(ARGV[i])
	if t > 0 then
		redis.call('ZADD', watch, istr(t), member)
		tracked = tracked + 1
	else
		redis.call('ZREM', watch, member)
	end
end
local _, first = zfirst(watch)
return {now, first, tracked}
