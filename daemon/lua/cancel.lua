-- cancel: remove a job that has not started, and say what it was
-- (docs/keys.md).
--
-- KEYS[1] delayed zset
-- KEYS[2] active zset
-- KEYS[3] dead zset
-- KEYS[4] job hash P..'job:'..ID
-- KEYS[5] result key P..'result:'..ID
-- ARGV[1] job ID
-- ARGV[2] events channel ("" or absent = none): "cancelled" {queue, id,
--         handler} when it was in delayed
--
-- Reply (a bulk string):
--   "cancelled"  it was in delayed: removed, and its job deleted (packed
--                or its hash)
--   "running"    it is in active (nothing changed; it is not killed)
--   "dead"       it is in dead (nothing changed)
--   "finished"   the result key exists
--   "unknown"    none of these

local delayed, active, dead, jk, rk = KEYS[1], KEYS[2], KEYS[3], KEYS[4],
    KEYS[5]
local id, events = ARGV[1], ARGV[2]

if redis.call('ZREM', delayed, id) == 1 then
	if events ~= nil and events ~= '' then
		emit(events, 'cancelled', now_ms(), 'queue', queue_of(delayed),
		    'id', id, 'handler', handler_of(jk, body_of(jk, id)))
	end
	job_delete(prefix_of(jk, id), id)
	return 'cancelled'
elseif redis.call('ZSCORE', active, id) then
	return 'running'
elseif redis.call('ZSCORE', dead, id) then
	return 'dead'
elseif redis.call('EXISTS', rk) == 1 then
	return 'finished'
end
return 'unknown'
