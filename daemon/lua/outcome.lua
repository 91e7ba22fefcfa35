-- outcome: record the outcomes of several claimed jobs of one queue in one
-- call (complete, retry or bury each, as the single-job scripts do). The
-- daemon collects the outcomes that are ready within one turn of its loop.
--
-- KEYS[1] active zset
-- KEYS[2] delayed zset
-- KEYS[3] dead zset
-- ARGV[1] key prefix P ("ns:{Q}:"); job hashes are P..'job:'..ID and
--         results P..'result:'..ID
-- ARGV[2] result TTL in ms; 0 = do not store results
-- ARGV[3] dead max_jobs (0 = no limit)
-- ARGV[4] dead ttl_ms (0 = no limit)
-- ARGV[5] wake channel ("" = no publish)
-- ARGV[6] events channel ("" = none): "done", "retry" (or "lock_conflict")
--         and "dead" events as the single-job scripts publish them
-- ARGV[7] history: finished-job records kept per list (0 = none): a job
--         done goes into P..'done', one buried or cancelled into
--         P..'failed' (zsets of IDs by finish time, ms), its record into
--         the hash P..'history' (ID -> JSON); an ID is in one list at
--         most, with the record of its latest run
-- ARGV[8] history ttl_ms: records older than this are dropped (0 = kept
--         until the count trims them); both limits apply as jobs finish
-- ARGV[9..] eight per job:
--         kind: "complete", "retry", "bury" or "cancel" (deferctl cancel
--         --kill stopped it: the job and its hash are removed, with the
--         event "cancelled" {queue, id, handler, killed true})
--         job ID
--         lease token of the claim
--         text: the result (complete) or the error (retry, bury)
--         delay_ms (retry; "" otherwise)
--         flags: "r" refund the attempt (retry), "c" the resource was
--                locked (event "lock_conflict"), "" none
--         duration_ms of the handler run ("" = none)
--         record: the history record, a JSON object kept as it is (the
--         daemon's "finished_ms" in it: completing it here cost Redis two
--         copies of it per job); "" = none (retries have none)
--
-- Reply: an array with one integer per job, in order: 1 when its lease
-- token matched and the outcome was recorded; else nothing changed for
-- that job (the others are not affected) and it is 0 when another claim
-- holds the job, 2 when none does (finished or requeued: perhaps by this
-- same outcome sent before, whose reply was lost). When burying made the
-- dead set drop old entries, one more element follows the jobs':
-- {"trimmed", by_max_jobs, by_ttl}.

local active, delayed, dead = KEYS[1], KEYS[2], KEYS[3]
local P = ARGV[1]
local ttl, dead_max, dead_ttl = arg_uint(2), arg_uint(3), arg_uint(4)
local wake, events = ARGV[5], ARGV[6]
local hist_max, hist_ttl = arg_uint(7), arg_uint(8)
local FIRST, PER = 9, 8
local HISTORY_TRIM_BUDGET = 1000	-- records dropped per list per call

if (#ARGV - FIRST + 1) % PER ~= 0 then
	error('deferd: outcome takes 8 arguments per job')
end
local now = now_ms()
local now_text = istr(now)
local out, buried = {}, 0

-- History records of this call, written once for all: per list the
-- ZADD arguments (score, ID, ...), and the HSET ones (ID, record, ...).
local hist = {done = {}, failed = {}, recs = {}}

-- Keep record rec (the daemon's JSON object) of job id in list. One that
-- is not an object ({ ... }) is left out: raising an error here would
-- leave the job's outcome written and the batch's reply lost.
local function history_add(list, id, rec)
	if hist_max == 0 or string.byte(rec, 1) ~= 123 or
	    string.byte(rec, -1) ~= 125 then
		return
	end
	local z = hist[list]
	z[#z + 1] = now_text
	z[#z + 1] = id
	hist.recs[#hist.recs + 1] = id
	hist.recs[#hist.recs + 1] = rec
end

-- Drop list's oldest records beyond hist_max or older than hist_ttl.
local function history_trim(list, hk)
	local drop = redis.call('ZCARD', list) - hist_max
	if hist_ttl > 0 then
		drop = math.max(drop, redis.call('ZCOUNT', list, '-inf',
		    '(' .. istr(now - hist_ttl)))
	end
	if drop <= 0 then
		return
	end
	local ids = redis.call('ZRANGE', list, 0,
	    math.min(drop, HISTORY_TRIM_BUDGET) - 1)
	call_chunked('ZREM', list, ids, 1)
	call_chunked('HDEL', hk, ids, 1)
end

-- Write this call's records: into their list, out of the other one (an
-- ID's record is its latest run's; one EXISTS spares the ZREM of every ID
-- while the other list is empty, as failed is on a healthy queue), then
-- trim both limits.
local function history_write()
	if #hist.recs == 0 then
		return
	end
	local hk = P .. 'history'
	call_chunked('HSET', hk, hist.recs, 2)
	for _, l in ipairs({{'done', 'failed'}, {'failed', 'done'}}) do
		local list, other = l[1], l[2]
		local z = hist[list]
		if #z > 0 then
			call_chunked('ZADD', P .. list, z, 2)
			if redis.call('EXISTS', P .. other) == 1 then
				local ids = {}
				for i = 2, #z, 2 do
					ids[#ids + 1] = z[i]
				end
				call_chunked('ZREM', P .. other, ids, 1)
			end
			history_trim(P .. list, hk)
		end
	end
end

-- A claimed job cancelled while it ran (deferctl cancel --kill): 1 when
-- its lease token matched and it is gone, else as the others.
local function cancel_claimed(jk, id, token, body)
	local lease, handler = lease_fields(jk, body)
	if lease ~= token then
		return lease and 0 or 2
	end
	redis.call('ZREM', active, id)
	job_delete(P, id)
	emit(events, 'cancelled', now, 'queue', queue_of(active), 'id', id,
	    'handler', handler, 'killed', true)
	return 1
end

-- Completed jobs: one ZREM, one HDEL (packed) and one DEL (hashes).
local gone = {ids = {}, keys = {}, packed = {}}
-- The packed jobs' values (none or false: a hash job).
local bodies = {}
if pk_any(P) then
	local ids = {}
	for i = FIRST + 1, #ARGV, PER do
		ids[#ids + 1] = ARGV[i]
	end
	bodies = pk_bodies(P, ids)
end
for i = FIRST, #ARGV, PER do
	local body = bodies[(i - FIRST) / PER + 1] or false
	local kind, id, token, text = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
	local flags, record = ARGV[i + 5], ARGV[i + 7]
	-- Only events carry the duration: no pattern match per job without.
	local duration = events ~= '' and uint(ARGV[i + 6]) or nil
	-- The hash key, which a packed job's completion does not need.
	local jk = (kind ~= 'complete' or not body) and P .. 'job:' .. id
	local r
	if kind == 'complete' then
		r = complete_job(active, jk, ttl > 0 and P .. 'result:' .. id, id,
		    token, text, ttl, events, duration, now, gone, body)
		if r == 1 then
			history_add('done', id, record)
		end
	elseif kind == 'retry' then
		local delay = uint(ARGV[i + 4])
		if delay == nil then
			error('deferd: retry of ' .. id .. ' needs a delay_ms')
		end
		r = retry_job(active, delayed, jk, id, token, text, delay,
		    string.find(flags, 'r', 1, true) ~= nil, wake, events,
		    string.find(flags, 'c', 1, true) and 'lock_conflict' or '',
		    duration, now, body)
	elseif kind == 'bury' then
		r = bury_claimed(P, active, dead, jk, id, token, text, events,
		    duration, now, body)
		if r == 1 then
			buried = buried + 1
			history_add('failed', id, record)
		end
	elseif kind == 'cancel' then
		r = cancel_claimed(jk, id, token, body)
		if r == 1 then
			history_add('failed', id, record)
		end
	else
		error('deferd: unknown outcome kind ' .. string.format('%q', kind))
	end
	out[#out + 1] = r
end
call_chunked('ZREM', active, gone.ids, 1)
call_chunked('HDEL', P .. 'jobs', gone.packed, 1)
for i = 1, #gone.keys, 1000 do
	redis.call('DEL', unpack(gone.keys, i, math.min(i + 999, #gone.keys)))
end
history_write()
if buried > 0 then
	trim_dead(P, dead, now, dead_max, dead_ttl, events)
end
if trimmed_entry() then
	out[#out + 1] = trimmed_entry()
end
return out
