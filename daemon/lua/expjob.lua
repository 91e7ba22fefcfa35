-- expjob: turn a key expiration into a job due now, once across daemons
-- (docs/architecture.md). Every daemon that receives the `expired` event
-- calls this; the first one sets the dedupe marker and creates the job, the
-- others change nothing.
--
-- KEYS[1] delayed zset of the rule's queue
-- ARGV[1] key prefix P ("ns:{Q}:")
-- ARGV[2] database number of the event (decimal)
-- ARGV[3] the expired key (binary-safe)
-- ARGV[4] handler
-- ARGV[5] resource (lock name), or "" for none
-- ARGV[6] the rule's pattern (stored as field match)
-- ARGV[7] marker TTL in ms (> 0)
-- ARGV[8] wake channel ("" publishes nothing)
-- ARGV[9] events channel ("" or absent = none): "expired" {queue, id,
--         handler, key, db, match} when the job was created
--
-- The job ID is "exp:DB:KEY" when that is a valid job ID (1-200 bytes of
-- [A-Za-z0-9_.:@-]), else "exp:DB:@sha1-" .. SHA1(KEY) in hex. The marker
-- P.."expdone:"..ID is SET NX PX ttl; the job, packed in P..'jobs', gets
-- handler, payload (the key), enqueued_ms, due_ms (now), source=expired,
-- expired_key, expired_db, match, and resource when given.
--
-- Reply: {1, id} created; {0, id} already done (marker or job present).

local delayed = KEYS[1]
local P, db, key = ARGV[1], ARGV[2], ARGV[3]
local handler, resource, match = ARGV[4], ARGV[5], ARGV[6]
local ttl = arg_uint(7)
local wake, events = ARGV[8], ARGV[9]
pk_check(P)	-- before the marker: no write when no job can be made

local id = 'exp:' .. db .. ':' .. key
if not valid_id(id) then
	id = 'exp:' .. db .. ':@sha1-' .. redis.sha1hex(key)
end
if ttl == 0 then
	ttl = 1
end
if not redis.call('SET', P .. 'expdone:' .. id, '1', 'NX', 'PX', istr(ttl)) then
	return {0, id}
end
if job_exists(P, id) then
	return {0, id}
end
local now = now_ms()
local f = {'enqueued_ms', istr(now), 'due_ms', istr(now), 'source', 'expired',
    'expired_key', key, 'expired_db', db, 'match', match}
if resource ~= '' then
	table.insert(f, 'resource')
	table.insert(f, resource)
end
redis.call('HSET', P .. 'jobs', id, pk_head(handler, f) .. key)
redis.call('ZADD', delayed, istr(now), id)
redis.call('DEL', P .. 'result:' .. id)	-- an earlier expiration's
publish_wake_if_first(delayed, id, now, wake)
emit(events, 'expired', now, 'queue', queue_of(P), 'id', id,
    'handler', handler, 'key', key, 'db', db, 'match', match)
return {1, id}
