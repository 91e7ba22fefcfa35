-- bury: move a claimed job into the dead set (docs/keys.md).
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
-- HSET last_error and died_ms, ZADD dead now, trim dead); else nothing
-- changed: 0 when another claim holds the job, 2 when none does (see
-- complete.lua).

local active, dead, jk = KEYS[1], KEYS[2], KEYS[3]
local P = ARGV[4]
local now = now_ms()
local r = bury_claimed(P, active, dead, jk, ARGV[1], ARGV[2], ARGV[3],
    ARGV[7], uint(ARGV[8]), now)
if r == 1 then
	trim_dead(P, dead, now, arg_uint(5), arg_uint(6), ARGV[7])
end
return r
