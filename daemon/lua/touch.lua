-- touch: make Redis expire the watched keys whose time has come, now.
-- Redis publishes `expired` only when it deletes a key (on access or by
-- sampling), which can be seconds to minutes late; EXISTS on a due key
-- deletes it and publishes the event at once. Runs in database DB.
--
-- KEYS[1] the watch zset (members "DB:KEY", scores expiry ms)
-- ARGV[1] database number (decimal), the member prefix
-- ARGV[2] limit: at most this many due members are looked at
--
-- Each due member is touched (EXISTS). A key that is gone (just expired,
-- or deleted earlier) or has no TTL any more leaves the zset; a key whose
-- TTL moved later is re-scored, so the zset stays bounded and clean.
-- Members of another database are removed (they cannot be touched here).
-- Reply: {now_ms, earliest score left or -1, touched, removed}

local watch, db = KEYS[1], ARGV[1]
local limit = arg_uint(2)
local now = now_ms()
local prefix = db .. ':'
local touched, removed = 0, 0

local due = redis.call('ZRANGEBYSCORE', watch, '-inf', istr(now),
    'LIMIT', 0, limit)
for _, member in ipairs(due) do
	local gone = true
	if string.sub(member, 1, #prefix) == prefix then
		local k = string.sub(member, #prefix + 1)
		touched = touched + 1
		if redis.call('EXISTS', k) == 1 then
			local t = redis.call('PTTL', k)
			if t >= 0 then
				-- Not expired after all (TTL moved): track the new time.
				redis.call('ZADD', watch, istr(now + math.max(t, 1)), member)
				gone = false
			end
		end
	end
	if gone then
		redis.call('ZREM', watch, member)
		removed = removed + 1
	end
end
local _, first = zfirst(watch)
return {now, first, touched, removed}
