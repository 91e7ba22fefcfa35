-- enqueue: create a job and schedule it (docs/keys.md).
--
-- KEYS[1] job hash P..'job:'..ID
-- KEYS[2] delayed zset
-- ARGV[1] job ID
-- ARGV[2] handler name
-- ARGV[3] payload (binary-safe, may be empty)
-- ARGV[4] "in" (ARGV[5] is a delay in ms) or "at" (ARGV[5] is epoch ms)
-- ARGV[5] ms, a non-negative integer
-- ARGV[6] max_attempts, or "" to leave the field unset
-- ARGV[7] resource (lock name), or "" for none
-- ARGV[8] source, or "" for "delayed"
-- ARGV[9] wake channel (PUBLISHed with the due ms when the job becomes the
--         first of delayed); "" publishes nothing
-- ARGV[10] events channel ("" = none): "enqueued" {queue, id, handler,
--         due_ms, delay_ms, source} when created
-- ARGV[11..] optional extra field, value pairs stored in the job
--         (e.g. timeout_ms)
--
-- Reply: {1, due_ms} when created, packed (docs/keys.md, "Packed jobs":
-- field ID of P..'jobs', P the prefix of KEYS[1]) with handler, payload,
-- enqueued_ms, due_ms, source unless "delayed", and resource /
-- max_attempts when given, plus the extra pairs; attempts 0; ZADD delayed
-- due_ms ID; the result of an earlier job with this ID, P..'result:'..ID,
-- deleted: it is not this job's);
-- {0, due_ms of the existing job or -1} when a job with this ID exists,
-- packed or as the hash KEYS[1] (nothing changed: idempotent enqueue).
-- Errors (nothing written): bad ARGV[4], ARGV[5], ARGV[6], a missing
-- ARGV[10], an odd number of extra arguments or an extra field named
-- handler, payload, attempts or lease, or with "=" or a newline.

local jk, delayed = KEYS[1], KEYS[2]
local id, handler, payload = ARGV[1], ARGV[2], ARGV[3]
local mode, ms = ARGV[4], arg_uint(5)
local max_attempts, resource, source = ARGV[6], ARGV[7], ARGV[8]
local wake, events = ARGV[9], ARGV[10]

if mode ~= 'in' and mode ~= 'at' then
	error('deferd: ARGV[4] must be "in" or "at", got ' ..
	    string.format('%q', tostring(mode)))
end
if max_attempts ~= '' then
	arg_uint(6)
end
if #ARGV < 10 or (#ARGV - 10) % 2 ~= 0 then
	error('deferd: extra fields must come in field, value pairs')
end

local exists, old_due = job_due(jk, id)
if exists then
	return {0, old_due}
end

local now = now_ms()
local due = due_of(mode, ms, now)
source = source_or_default(source)

local f = {'enqueued_ms', istr(now), 'due_ms', istr(due)}
add_source(f, source)
if resource ~= nil and resource ~= '' then
	table.insert(f, 'resource')
	table.insert(f, resource)
end
if max_attempts ~= '' then
	table.insert(f, 'max_attempts')
	table.insert(f, max_attempts)
end
for i = 11, #ARGV, 2 do
	table.insert(f, ARGV[i])
	table.insert(f, ARGV[i + 1])
end
local P = prefix_of(jk, id)
pk_check(P)
redis.call('HSET', P .. 'jobs', id, pk_head(handler, f) .. payload)
redis.call('ZADD', delayed, istr(due), id)
redis.call('DEL', P .. 'result:' .. id)
publish_wake_if_first(delayed, id, due, wake)
emit(events, 'enqueued', now, 'queue', queue_of(delayed), 'id', id,
    'handler', handler, 'due_ms', due, 'delay_ms', math.max(due - now, 0),
    'source', source)
return {1, due}
