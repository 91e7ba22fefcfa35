-- schedule: the ticks of a periodic job, each enqueued once across any
-- number of daemons (schedules.c). A tick becomes the job
-- "cron:NAME:TICK_MS"; the schedule hash remembers the latest tick
-- enqueued, so a tick at or before it is never enqueued again, whichever
-- daemon asks and however often.
--
-- KEYS[1] the schedule hash P..'schedule:'..NAME: last (the latest tick
--         enqueued, ms), spec (the fingerprint of the definition that
--         enqueued it), pending (the ticks enqueued ahead of their time,
--         comma-separated ms)
-- KEYS[2] delayed zset of the schedule's queue
-- ARGV[1] mode: "state", "enqueue", "replace" or "remove"
-- ARGV[2] key prefix P ("ns:{Q}:")
-- ARGV[3] schedule name
-- ARGV[4] fingerprint of the caller's definition (stored by enqueue and
--         replace; compared by the caller)
--
-- state: reply {now, last or -1, spec or ""}.
-- enqueue: ARGV[5] handler, ARGV[6] payload, ARGV[7] resource ("" none),
--   ARGV[8] wake channel ("" none), ARGV[9] events channel ("" none), then
--   triples from ARGV[10]: tick ms, due ms (the tick plus jitter), the
--   tick as ISO 8601 text. Each tick after last becomes a job (fields
--   handler, payload, enqueued_ms, due_ms, source=schedule,
--   schedule, tick, and resource when given; packed in P..'jobs') unless
--   a job with its ID exists; last
--   becomes the latest tick given, pending the ticks still ahead.
--   Reply {now, last, created}.
-- replace: the definition changed: the pending ticks still in delayed are
--   cancelled (job deleted), last becomes min(last, now), spec the new
--   fingerprint. Reply {now, last or -1, cancelled}.
-- remove: the schedule is gone: the pending ticks are cancelled and the
--   hash deleted. Reply {now, -1, cancelled}.
-- Errors (nothing written): an unknown mode, a bad tick or due time.

local sk, delayed = KEYS[1], KEYS[2]
local mode, P, name, spec = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = now_ms()
pk_check(P)

-- The schedule's last tick, or -1 (none, or garbage: start afresh).
local function last_tick()
	return uint(hget_safe(sk, 'last')) or -1
end

-- Write the hash, replacing a key of another type (never a job).
local function save(fields)
	if key_type(sk) ~= 'hash' and key_type(sk) ~= 'none' then
		redis.call('DEL', sk)
	end
	redis.call('HSET', sk, unpack(fields))
end

-- Cancel the pending ticks still waiting in delayed; returns how many.
local function cancel_pending()
	local n = 0
	for t in string.gmatch(hget_safe(sk, 'pending') or '', '%d+') do
		local id = 'cron:' .. name .. ':' .. t
		if redis.call('ZREM', delayed, id) == 1 then
			job_delete(P, id)
			n = n + 1
		end
	end
	return n
end

if mode == 'state' then
	return {now, last_tick(), hget_safe(sk, 'spec') or ''}
elseif mode == 'replace' then
	local n = cancel_pending()
	local last = math.min(last_tick(), now)
	if last >= 0 then
		save({'last', istr(last), 'spec', spec, 'pending', ''})
	else
		save({'spec', spec, 'pending', ''})
	end
	return {now, last, n}
elseif mode == 'remove' then
	local n = cancel_pending()
	if key_type(sk) ~= 'none' then
		redis.call('DEL', sk)
	end
	return {now, -1, n}
elseif mode ~= 'enqueue' then
	error('deferd: ARGV[1] must be state, enqueue, replace or remove, got ' ..
	    string.format('%q', tostring(mode)))
end

local handler, payload, resource = ARGV[5], ARGV[6], ARGV[7]
local wake, events = ARGV[8], ARGV[9]
if (#ARGV - 9) % 3 ~= 0 then
	error('deferd: ticks must come in tick, due, text triples')
end
for i = 10, #ARGV, 3 do
	arg_uint(i)
	arg_uint(i + 1)
end

local last = last_tick()
local pending = {}
for t in string.gmatch(hget_safe(sk, 'pending') or '', '%d+') do
	if tonumber(t) > now then
		table.insert(pending, t)
	end
end
local created = 0
for i = 10, #ARGV, 3 do
	local tick, due, text = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), ARGV[i + 2]
	if tick > last then
		local id = 'cron:' .. name .. ':' .. ARGV[i]
		if not job_exists(P, id) then
			local f = {'enqueued_ms', istr(now),
			    'due_ms', istr(due), 'source', 'schedule',
			    'schedule', name, 'tick', text}
			if resource ~= '' then
				table.insert(f, 'resource')
				table.insert(f, resource)
			end
			redis.call('HSET', P .. 'jobs', id,
			    pk_head(handler, f) .. payload)
			redis.call('ZADD', delayed, istr(due), id)
			publish_wake_if_first(delayed, id, due, wake)
			emit(events, 'enqueued', now, 'queue', queue_of(P), 'id', id,
			    'handler', handler, 'due_ms', due,
			    'delay_ms', math.max(due - now, 0), 'source', 'schedule')
			created = created + 1
		end
		if tick > now then
			table.insert(pending, ARGV[i])
		end
		last = tick
	end
end
if last >= 0 then
	save({'last', istr(last), 'spec', spec, 'pending',
	    table.concat(pending, ',')})
end
return {now, last, created}
