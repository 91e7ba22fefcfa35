-- listrecover: give back the items of processing lists whose daemon is
-- gone (crashed or killed between BLMOVE and listtake).
--
-- KEYS[1] the registry set of the list: owner names ("HOST:PID")
-- KEYS[2] the main list
-- ARGV[1] processing list prefix: an owner's list is ARGV[1] .. owner
-- ARGV[2] liveness key prefix: an owner is alive while ARGV[2] .. owner exists
-- ARGV[3] the caller's own owner name (never recovered here)
--
-- Each registered owner without its liveness key has its processing list
-- moved, in order, back to the head of the main list, and is unregistered.
-- Reply: {items moved back, owners recovered}

local registry, main = KEYS[1], KEYS[2]
local proc_prefix, alive_prefix, me = ARGV[1], ARGV[2], ARGV[3]
local moved, owners = 0, 0

for _, owner in ipairs(redis.call('SMEMBERS', registry)) do
	if owner ~= me and redis.call('EXISTS', alive_prefix .. owner) == 0 then
		local proc = proc_prefix .. owner
		while redis.call('LMOVE', proc, main, 'RIGHT', 'LEFT') do
			moved = moved + 1
		end
		redis.call('SREM', registry, owner)
		owners = owners + 1
	end
end
return {moved, owners}
