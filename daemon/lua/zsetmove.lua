-- zsetmove: move due members of a plain zset (the classic delay queue,
-- `ZADD delay-queue <unix-seconds> <task>`) into jobs, atomically.
--
-- KEYS[1] the plain zset
-- KEYS[2] delayed zset of the source's queue
-- ARGV[1] key prefix P ("ns:{Q}:")
-- ARGV[2] handler
-- ARGV[3] score unit in ms (1000: scores are seconds, 1: milliseconds)
-- ARGV[4] limit: at most this many members are moved
-- ARGV[5] wake channel ("" publishes nothing)
-- ARGV[6] events channel ("" or absent = none): "enqueued" {queue, id,
--         handler, due_ms, delay_ms 0, source "zset"} per job
--
-- Members with score * unit <= now are ZREMed and each becomes a job due
-- now with payload = the member, source=zset, field zset = KEYS[1]. The
-- job ID is "zset:" .. SHA1(KEYS[1] .. "\n" .. member) (stable: a retried
-- call cannot create two jobs for one member), or, when a job with that ID
-- still exists (the member was added again), that ID .. "-" .. now .. "-" .. n.
-- Reply: {now_ms, next due ms or -1, moved}

local zset, delayed = KEYS[1], KEYS[2]
local P, handler = ARGV[1], ARGV[2]
local unit, limit = arg_uint(3), arg_uint(4)
local wake, events = ARGV[5], ARGV[6]
local now = now_ms()
local moved = 0
pk_check(P)	-- before a member leaves the zset

if unit == 0 then
	unit = 1
end
local max = now / unit
if unit > 1 then
	max = string.format('%.3f', max)
else
	max = istr(max)
end

local due = redis.call('ZRANGEBYSCORE', zset, '-inf', max, 'LIMIT', 0, limit)
for _, member in ipairs(due) do
	redis.call('ZREM', zset, member)
	local id = 'zset:' .. redis.sha1hex(zset .. '\n' .. member)
	local n = 0
	while job_exists(P, id) do
		n = n + 1
		id = 'zset:' .. redis.sha1hex(zset .. '\n' .. member) .. '-' ..
		    istr(now) .. '-' .. istr(n)
	end
	redis.call('HSET', P .. 'jobs', id, pk_head(handler, {'enqueued_ms',
	    istr(now), 'due_ms', istr(now), 'source', 'zset', 'zset', zset}) ..
	    member)
	redis.call('ZADD', delayed, istr(now), id)
	moved = moved + 1
	emit(events, 'enqueued', now, 'queue', queue_of(P), 'id', id,
	    'handler', handler, 'due_ms', now, 'delay_ms', 0, 'source', 'zset')
end
if moved > 0 and wake ~= '' then
	redis.call('PUBLISH', wake, istr(now))
end
local f = redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')
local next_due = -1
if f[1] ~= nil then
	next_due = math.ceil(tonumber(f[2]) * unit)
end
return {now, next_due, moved}
