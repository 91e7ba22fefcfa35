-- reap: return jobs whose lease expired (worker lost) (DESIGN §2).
--
-- KEYS[1] active zset
-- KEYS[2] delayed zset
-- KEYS[3] dead zset
-- ARGV[1] key prefix P ("ns:{Q}:")
-- ARGV[2] limit: at most this many expired entries are handled
-- ARGV[3] wake channel ("" = no publish)
-- ARGV[4] dead max_jobs (0 = no limit)
-- ARGV[5] dead ttl_ms (0 = no limit)
-- ARGV[6] default max_attempts (for jobs without a numeric field)
-- ARGV[7] events channel ("" or absent = none): "retry" {queue, id,
--         handler, attempt, delay_ms 0, error} per requeued job, "dead"
--         {queue, id, handler, attempt, error} per buried one
--
-- For each ID of ZRANGEBYSCORE active -inf now LIMIT 0 limit: ZREM active;
-- a missing hash is just dropped; a job key of another type goes to dead
-- (counted as buried); else HDEL lease, and if attempts >= max_attempts
-- it is buried with "lease expired on the final attempt (worker lost)",
-- otherwise requeued: HSET last_error "lease expired (worker lost)",
-- due_ms now, ZADD delayed now. PUBLISH wake (now) if any was requeued.
--
-- Reply: {requeued, buried}

local active, delayed, dead = KEYS[1], KEYS[2], KEYS[3]
local P = ARGV[1]
local limit = arg_uint(2)
local wake = ARGV[3]
local dead_max, dead_ttl = arg_uint(4), arg_uint(5)
local default_max = arg_uint(6)
local events = ARGV[7]
local Q = queue_of(P)

local now = now_ms()
local requeued, buried = 0, 0
local ids = {}
if limit > 0 then
	ids = redis.call('ZRANGEBYSCORE', active, '-inf', istr(now),
	    'LIMIT', 0, limit)
end
for _, id in ipairs(ids) do
	local jk = P .. 'job:' .. id
	local ty = key_type(jk)
	redis.call('ZREM', active, id)
	if ty == 'hash' then
		redis.call('HDEL', jk, 'lease')
		local attempts = uint(hget_safe(jk, 'attempts')) or 0
		local max = uint(hget_safe(jk, 'max_attempts')) or default_max
		if attempts >= max then
			local why = 'lease expired on the final attempt (worker lost)'
			bury_job(P, dead, id, why, now)
			buried = buried + 1
			emit(events, 'dead', now, 'queue', Q, 'id', id, 'handler',
			    hget_safe(jk, 'handler') or nil, 'attempt', attempts,
			    'error', why)
		else
			redis.call('HSET', jk, 'last_error',
			    'lease expired (worker lost)', 'due_ms', istr(now))
			redis.call('ZADD', delayed, istr(now), id)
			requeued = requeued + 1
			emit(events, 'retry', now, 'queue', Q, 'id', id, 'handler',
			    hget_safe(jk, 'handler') or nil, 'attempt', attempts,
			    'delay_ms', 0, 'error', 'lease expired (worker lost)')
		end
	elseif ty ~= 'none' then
		bury_job(P, dead, id, 'job key has wrong type', now)
		buried = buried + 1
	end
end
if buried > 0 then
	trim_dead(P, dead, now, dead_max, dead_ttl)
end
if requeued > 0 and wake ~= nil and wake ~= '' then
	redis.call('PUBLISH', wake, istr(now))
end
return {requeued, buried}
