-- reap: return jobs whose lease expired (worker lost) (docs/keys.md).
--
-- KEYS[1] active zset
-- KEYS[2] delayed zset
-- KEYS[3] dead zset
-- ARGV[1] key prefix P ("ns:{Q}:")
-- ARGV[2] limit: at most this many expired entries are handled
-- ARGV[3] wake channel ("" = no publish)
-- ARGV[4] dead max_jobs (0 = no limit)
-- ARGV[5] dead ttl_ms (0 = no limit)
-- ARGV[6] default max_attempts (for jobs without a numeric field)
-- ARGV[7] events channel ("" or absent = none): "retry" {queue, id,
--         handler, attempt, delay_ms 0, error} per requeued job, "dead"
--         {queue, id, handler, attempt, error} per buried one
--
-- For each ID of ZRANGEBYSCORE active -inf now LIMIT 0 limit: ZREM active;
-- a missing hash is just dropped; a job key of another type goes to dead
-- (counted as buried); else HDEL lease, and if attempts >= max_attempts
-- it is buried with "lease expired on the final attempt (worker lost)",
-- otherwise requeued: HSET last_error "lease expired (worker lost)",
-- due_ms now, ZADD delayed now. PUBLISH wake (now) if any was requeued.
-- (reap_expired in lib.lua; every claim does the same first, so a daemon
-- that claims needs no separate reap.)
--
-- Reply: {requeued, buried, trimmed_max_jobs, trimmed_ttl}: the last two
-- count the dead-set entries this call removed (they are gone).

local active, delayed, dead = KEYS[1], KEYS[2], KEYS[3]
local P = ARGV[1]
local limit = arg_uint(2)
local wake = ARGV[3]
local dead_max, dead_ttl = arg_uint(4), arg_uint(5)
local default_max = arg_uint(6)
local events = ARGV[7]
local Q = queue_of(P)

local requeued, buried = reap_expired(P, active, delayed, dead, limit,
    now_ms(), dead_max, dead_ttl, default_max, wake, events, Q)
return {requeued, buried, trimmed.max_jobs, trimmed.ttl}
