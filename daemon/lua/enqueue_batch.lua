-- enqueue_batch: create many jobs that share everything but ID and payload,
-- in one call (deferctl enqueue --batch). Per job it does what enqueue.lua
-- does; the per-call work (argument checks, TIME, the wake decision) is
-- paid once per batch instead of once per job.
--
-- KEYS[1] delayed zset
-- ARGV[1] key prefix P ("ns:{Q}:"): jobs go to P..'jobs', packed; an ID
--         whose hash P..'job:'..ID exists is taken
-- ARGV[2] handler name
-- ARGV[3] "in" (ARGV[4] is a delay in ms) or "at" (ARGV[4] is epoch ms)
-- ARGV[4] ms, a non-negative integer
-- ARGV[5] max_attempts, or "" to leave the field unset
-- ARGV[6] resource (lock name), or "" for none
-- ARGV[7] source, or "" for "delayed"
-- ARGV[8] wake channel (PUBLISHed once with the due ms when the batch's
--         due time is earlier than every job already in delayed); ""
--         publishes nothing
-- ARGV[9] events channel ("" = none): one "enqueued" event per job
--         created, as enqueue.lua sends
-- ARGV[10] n: the number of extra field, value pairs that follow
-- ARGV[11 .. 10+2n] extra field, value pairs stored in every job
-- ARGV[11+2n ..] job ID, payload pairs (payloads binary-safe, may be empty)
--
-- Every job is created packed with the fields of enqueue.lua (handler,
-- payload, enqueued_ms, due_ms, source unless "delayed", resource /
-- max_attempts when given, the extra pairs), all with one HSET of
-- P..'jobs', and ZADD delayed due_ms ID. An ID taken, packed or as a hash,
-- or earlier in the batch, is left alone (idempotent, as enqueue.lua).
-- Reply: {created, due_ms}.
-- Errors (nothing written): bad ARGV[3], ARGV[4], ARGV[5] or ARGV[10], or an
-- odd number of job arguments.

local delayed = KEYS[1]
local P, handler, mode = ARGV[1], ARGV[2], ARGV[3]
local ms = arg_uint(4)
local max_attempts, resource, source = ARGV[5], ARGV[6], ARGV[7]
local wake, events = ARGV[8], ARGV[9]
local nextra = arg_uint(10)
local first_job = 11 + 2 * nextra

if mode ~= 'in' and mode ~= 'at' then
	error('deferd: ARGV[3] must be "in" or "at", got ' ..
	    string.format('%q', tostring(mode)))
end
if max_attempts ~= '' then
	arg_uint(5)
end
if first_job - 1 > #ARGV or (#ARGV - first_job + 1) % 2 ~= 0 then
	error('deferd: jobs must come in ID, payload pairs after ' ..
	    istr(nextra) .. ' extra pair(s)')
end

local now = now_ms()
local due = due_of(mode, ms, now)
source = source_or_default(source)

-- The fields shared by every job, and the body up to the payload.
local f = {'enqueued_ms', istr(now), 'due_ms', istr(due)}
add_source(f, source)
if resource ~= '' then
	table.insert(f, 'resource')
	table.insert(f, resource)
end
if max_attempts ~= '' then
	table.insert(f, 'max_attempts')
	table.insert(f, max_attempts)
end
for i = 11, first_job - 1 do
	table.insert(f, ARGV[i])
end
local head = pk_head(handler, f)
pk_check(P)

-- The "enqueued" event of emit() in lib.lua, split around the job ID: the
-- rest is the same for every job of the batch, so it is encoded once.
local ev_head, ev_tail
if events ~= nil and events ~= '' then
	local function enc(v)
		return cjson.encode(utf8_clean(v, EVENT_TEXT_MAX))
	end
	ev_head = '{"event":"enqueued","queue":' .. enc(queue_of(delayed)) ..
	    ',"id":'
	ev_tail = ',"handler":' .. enc(handler) .. ',"due_ms":' .. istr(due) ..
	    ',"delay_ms":' .. istr(math.max(due - now, 0)) .. ',"source":' ..
	    enc(source) .. ',"ts_ms":' .. istr(now) .. '}'
end

local _, first_due = zfirst(delayed)
local sdue = istr(due)
local created = 0
local ids = {}
for i = first_job, #ARGV, 2 do
	ids[#ids + 1] = ARGV[i]
end
-- The IDs' packed jobs (one HMGET; none or false: not packed).
local packed = pk_any(P) and pk_bodies(P, ids) or {}
local taken = {}	-- created by this batch: a repeated ID is once
local bodies, members = {}, {}
for k, id in ipairs(ids) do
	if not packed[k] and not taken[id] and
	    redis.call('EXISTS', P .. 'job:' .. id) == 0 then
		taken[id] = true
		bodies[#bodies + 1] = id
		bodies[#bodies + 1] = head .. ARGV[first_job + 2 * k - 1]
		members[#members + 1] = sdue
		members[#members + 1] = id
		created = created + 1
		if ev_head then
			redis.call('PUBLISH', events, ev_head ..
			    cjson.encode(utf8_clean(id, EVENT_TEXT_MAX)) .. ev_tail)
		end
	end
end
call_chunked('HSET', P .. 'jobs', bodies, 2)
call_chunked('ZADD', delayed, members, 2)
if created > 0 and wake ~= '' and (first_due < 0 or due < first_due) then
	redis.call('PUBLISH', wake, sdue)
end
return {created, due}
