-- bury: move a claimed job into the dead set (DESIGN §2).
--
-- KEYS[1] active zset
-- KEYS[2] dead zset
-- KEYS[3] job hash P..'job:'..ID
-- ARGV[1] job ID
-- ARGV[2] lease token of the claim
-- ARGV[3] error text (last_error)
-- ARGV[4] key prefix P ("ns:{Q}:"), for trimming dead
-- ARGV[5] dead max_jobs (0 = no limit)
-- ARGV[6] dead ttl_ms (0 = no limit)
-- ARGV[7] events channel ("" or absent = none): "dead" {queue, id,
--         handler, attempt, error, duration_ms}
-- ARGV[8] duration_ms of the handler run, for the event ("" = none)
--
-- Reply: 1 when the lease field equals the token (ZREM active, HDEL lease,
-- HSET last_error and died_ms, ZADD dead now, trim dead); 0 when it does
-- not (stale token: nothing changed).

local active, dead, jk = KEYS[1], KEYS[2], KEYS[3]
local id, token, err, P = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local dead_max, dead_ttl = arg_uint(5), arg_uint(6)
local events = ARGV[7]

if hget_safe(jk, 'lease') ~= token then
	return 0
end
local now = now_ms()
redis.call('ZREM', active, id)
bury_job(P, dead, id, err, now)
emit(events, 'dead', now, 'queue', queue_of(P), 'id', id,
    'handler', hget_safe(jk, 'handler') or nil, 'attempt', attempt_of(jk),
    'error', err, 'duration_ms', uint(ARGV[8]))
trim_dead(P, dead, now, dead_max, dead_ttl)
return 1
