-- retry: put a claimed job back into delayed (DESIGN §2).
--
-- KEYS[1] active zset
-- KEYS[2] delayed zset
-- KEYS[3] job hash P..'job:'..ID
-- ARGV[1] job ID
-- ARGV[2] lease token of the claim
-- ARGV[3] error text for last_error ("" keeps the old one)
-- ARGV[4] delay in ms: due_ms = now + delay
-- ARGV[5] refund: "1" gives the attempt back (HINCRBY attempts -1; for the
--         graceful-shutdown and lock-conflict requeues), "0" does not
-- ARGV[6] wake channel ("" = no publish)
-- ARGV[7] events channel ("" or absent = none): ARGV[8] (default
--         "retry"; the daemon says "lock_conflict" for a job whose
--         resource was locked) {queue, id, handler, attempt, delay_ms,
--         error, refunded, duration_ms}
-- ARGV[8] event name, "" = "retry"
-- ARGV[9] duration_ms of the handler run, for the event ("" = none)
--
-- Reply: 1 when the lease field equals the token (ZREM active, HDEL lease,
-- HSET last_error and due_ms, ZADD delayed, PUBLISH wake if now first);
-- 0 when it does not (stale token: nothing changed).

local active, delayed, jk = KEYS[1], KEYS[2], KEYS[3]
local id, token, err = ARGV[1], ARGV[2], ARGV[3]
local delay = arg_uint(4)
local refund, wake = ARGV[5], ARGV[6]
local events = ARGV[7]

if hget_safe(jk, 'lease') ~= token then
	return 0
end
local now = now_ms()
local due = now + delay
redis.call('ZREM', active, id)
redis.call('HDEL', jk, 'lease')
if events ~= nil and events ~= '' then
	local name = ARGV[8]
	if name == nil or name == '' then
		name = 'retry'
	end
	emit(events, name, now, 'queue', queue_of(delayed), 'id', id,
	    'handler', hget_safe(jk, 'handler') or nil, 'attempt', attempt_of(jk),
	    'delay_ms', delay, 'error', err, 'refunded', refund == '1',
	    'duration_ms', uint(ARGV[9]))
end
if refund == '1' then
	local n = uint(hget_safe(jk, 'attempts'))
	if n and n > 0 then
		redis.call('HINCRBY', jk, 'attempts', -1)
	end
end
if err ~= nil and err ~= '' then
	redis.call('HSET', jk, 'last_error', err, 'due_ms', istr(due))
else
	redis.call('HSET', jk, 'due_ms', istr(due))
end
redis.call('ZADD', delayed, istr(due), id)
publish_wake_if_first(delayed, id, due, wake)
return 1
